package repo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"

	"github.com/minio/minio-go/v7"
)

// mapErr turns an error of minio-go into one that wraps this package's
// sentinels where one applies and says what to check, naming the endpoint
// and bucket. minio-go has by then retried what it retries (5xx answers,
// network errors), so such an error is the last of several attempts.
func (s *s3Store) mapErr(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return ctxErr
	}
	resp := minio.ToErrorResponse(err)
	switch resp.Code {
	case "NoSuchBucket":
		return fmt.Errorf("%w (endpoint %s)", ErrNoBucket, s.endpoint)
	case "NoSuchKey":
		return ErrNotExist
	case "AccessDenied", "SignatureDoesNotMatch", "InvalidAccessKeyId", "XAdminUserNotFound",
		"InvalidToken", "ExpiredToken", "TokenRefreshRequired", "AllAccessDisabled":
		return fmt.Errorf("%w by %s (%s): check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY", ErrAccess, s.endpoint, resp.Code)
	case "AuthorizationHeaderMalformed", "InvalidRegion":
		region := s.region
		if region == "" {
			region = "us-east-1"
		}
		hint := ""
		if resp.Region != "" {
			hint = fmt.Sprintf(" (the server expects %q)", resp.Region)
		}
		return fmt.Errorf("%w by %s: region %q refused%s: set AWS_REGION or HOTPIPE_S3_REGION", ErrAccess, s.endpoint, region, hint)
	}
	attempts := s.opts.MaxRetries
	if attempts == 0 {
		attempts = minio.MaxRetry
	}
	if resp.StatusCode >= 500 || resp.Code == "SlowDown" || resp.Code == "RequestTimeout" {
		return fmt.Errorf("%w: %s answered %d %s (after up to %d attempts): %s", ErrUnavailable, s.endpoint, resp.StatusCode, resp.Code, attempts, resp.Message)
	}
	var ue *url.Error
	var ne net.Error
	if resp.StatusCode == 0 && (errors.As(err, &ue) || errors.As(err, &ne)) {
		return fmt.Errorf("%w: cannot reach %s (after up to %d attempts): %v", ErrUnavailable, s.endpoint, attempts, err)
	}
	return fmt.Errorf("%s: %w", s.endpoint, err)
}
