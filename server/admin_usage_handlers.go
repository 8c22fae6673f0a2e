package server

import (
	"context"

	"billing-api/gen/admin"
	"billing-api/server/usage"
)

// UsageInputFromAdmin is the operator API's record as the usage domain takes
// it (the import command builds the same).
func UsageInputFromAdmin(r admin.UsageRecord) usage.RecordInput {
	return usage.RecordInput{
		ID: r.Id, Tenant: r.Tenant, Namespace: r.Namespace, UsageType: r.UsageType, ObjectName: r.ObjectName,
		Unit: r.Unit, Quantity: r.Quantity, Timestamp: r.Timestamp,
	}
}

// IngestUsageRecords stores a batch of usage records.
func (s *adminServer) IngestUsageRecords(ctx context.Context, req admin.IngestUsageRecordsRequestObject) (admin.IngestUsageRecordsResponseObject, error) {
	res, err := s.app.Usage.Ingest(ctx, mapSlice(req.Body.Records, UsageInputFromAdmin), deref(req.Params.DryRun))
	if err != nil {
		return nil, err
	}
	return admin.IngestUsageRecords200JSONResponse{
		Accepted: int32(res.Accepted), Duplicates: int32(res.Duplicates), Late: int32(res.Late),
	}, nil
}

// RotateUsageQueryKey adds a new breakdown-query signing key.
func (s *adminServer) RotateUsageQueryKey(ctx context.Context, req admin.RotateUsageQueryKeyRequestObject) (admin.RotateUsageQueryKeyResponseObject, error) {
	k, retired, err := s.app.Usage.RotateSigningKey(ctx, deref(req.Body.RetireOld))
	if err != nil {
		return nil, err
	}
	return admin.RotateUsageQueryKey200JSONResponse{KeyId: k.ID, Retired: int32(retired)}, nil
}
