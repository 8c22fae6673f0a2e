package harness

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// PGBinDir is where Debian installs PostgreSQL 15's server programs.
const PGBinDir = "/usr/lib/postgresql/15/bin"

// Cluster is a scratch PostgreSQL cluster the harness created in a temporary
// directory and runs on a free loopback port: the one it may stop and crash,
// never the machine's own.
type Cluster struct {
	Dir  string
	Port int
	// URL reaches its postgres database as the superuser postgres (trust
	// authentication, loopback only).
	URL  string
	bin  string
	cred *syscall.Credential
	proc *Process
}

// NewCluster runs initdb into a new temporary directory. PostgreSQL refuses
// to run as root: when the harness is root, the cluster belongs to, and its
// programs run as, the system user postgres.
func NewCluster(binDir string) (*Cluster, error) {
	if _, err := os.Stat(filepath.Join(binDir, "initdb")); err != nil {
		return nil, fmt.Errorf("PostgreSQL's server programs are not in %s: %w", binDir, err)
	}
	dir, err := os.MkdirTemp("", "billing-reliability-pg-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{Dir: dir, bin: binDir}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			_ = os.RemoveAll(dir)
			return nil, fmt.Errorf("running as root, the scratch cluster needs the user postgres: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			_ = os.RemoveAll(dir)
			return nil, err
		}
	}
	if out, err := c.command("initdb", "-D", c.data(), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync").CombinedOutput(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	if c.Port, err = FreePort(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	c.URL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.Port)
	return c, nil
}

func (c *Cluster) data() string { return filepath.Join(c.Dir, "data") }

func (c *Cluster) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(c.bin, name), args...)
	cmd.Dir = c.Dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LANG=C.UTF-8"}
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	return cmd
}

// Start runs the postmaster (on the cluster's port, loopback only, its
// socket in the cluster's directory) and waits up to timeout for it to
// accept connections.
func (c *Cluster) Start(timeout time.Duration) error {
	if c.proc != nil && c.proc.Exited() == nil {
		return errors.New("the scratch cluster is already running")
	}
	cmd := c.command("postgres", "-D", c.data(), "-p", strconv.Itoa(c.Port), "-k", c.Dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200", "-c", "shared_buffers=32MB")
	p, err := StartCmd("scratch PostgreSQL", cmd, "", 0)
	if err != nil {
		return err
	}
	c.proc = p
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgx.Connect(ctx, c.URL)
		if err == nil {
			_ = conn.Close(ctx)
			cancel()
			return nil
		}
		cancel()
		if perr := p.Exited(); perr != nil {
			return perr
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the scratch PostgreSQL did not accept connections within %s: %v; its log:\n%s", timeout, err, p.Logs)
		}
		time.Sleep(20 * time.Millisecond) // polling for the postmaster, bounded by the deadline
	}
}

// Crash stops the postmaster with SIGQUIT, by its PID: PostgreSQL's
// immediate shutdown, which drops every connection at once and recovers
// from the write-ahead log on the next start, like a crash.
func (c *Cluster) Crash() {
	if c.proc != nil {
		c.proc.StopWith(syscall.SIGQUIT, 30*time.Second)
	}
}

// Remove stops the cluster (a fast shutdown, SIGINT) and deletes its
// directory.
func (c *Cluster) Remove() error {
	if c.proc != nil {
		c.proc.StopWith(syscall.SIGINT, 30*time.Second)
	}
	return os.RemoveAll(c.Dir)
}

// FreePort is a loopback TCP port nothing listens on now.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
