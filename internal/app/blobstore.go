package app

import (
	"context"
	"fmt"

	"github.com/roost-mail/roost/internal/admin"
	"github.com/roost-mail/roost/internal/blob"
	"github.com/roost-mail/roost/internal/blob/s3"
	"github.com/roost-mail/roost/internal/config"
)

// blobOptions turns mail_blob_location and the S3 keys into client
// options. Without keys in the configuration the client reads the AWS_*
// environment variables. ok is false without mail_blob_location.
func blobOptions(cfg *config.Config) (o s3.Options, ok bool, err error) {
	if cfg.MailBlobLocation == "" {
		return s3.Options{}, false, nil
	}
	if o, err = s3.ParseLocation(cfg.MailBlobLocation); err != nil {
		return s3.Options{}, false, fmt.Errorf("mail_blob_location: %w", err)
	}
	o.AccessKey = cfg.MailBlobS3AccessKey
	o.SecretKey = string(cfg.MailBlobS3SecretKey.Data)
	return o, true, nil
}

// OpenBlobs opens the object store of mail_blob_location and checks that
// its bucket answers; nil (and no error) without mail_blob_location, when
// message bodies stay in the mail store's own database.
func OpenBlobs(ctx context.Context, cfg *config.Config) (blob.Backend, error) {
	o, ok, err := blobOptions(cfg)
	if err != nil || !ok {
		return nil, err
	}
	st, err := s3.Open(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("mail_blob_location: %w", err)
	}
	return st, nil
}

// blobChecks is the health check of the object store (admin health): a
// bucket lookup with the configured credentials. None without one.
func blobChecks(cfg *config.Config) []admin.Check {
	o, ok, err := blobOptions(cfg)
	if err != nil || !ok {
		return nil
	}
	st, err := s3.New(o)
	if err != nil {
		return []admin.Check{{Name: "object store", Fn: func(context.Context) error { return err }}}
	}
	return []admin.Check{{Name: "object store", Fn: st.Ping}}
}
