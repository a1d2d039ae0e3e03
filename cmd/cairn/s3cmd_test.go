package main

import (
	"context"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/rogpeppe/go-internal/testscript"
)

// cmdS3Remove removes from the S3 server of $S3_ENDPOINT the objects of
// BUCKET whose keys start with PREFIX ("copy/config", "copy/keys/"), as an
// interrupted or damaged copy would lack them: s3rm BUCKET PREFIX
func cmdS3Remove(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: s3rm BUCKET PREFIX")
	}
	client, err := minio.New(ts.Getenv("S3_ENDPOINT"), &minio.Options{
		Creds:  credentials.NewStaticV4(ts.Getenv("AWS_ACCESS_KEY_ID"), ts.Getenv("AWS_SECRET_ACCESS_KEY"), ""),
		Region: "us-east-1",
	})
	ts.Check(err)
	ctx := context.Background()
	n := 0
	for obj := range client.ListObjects(ctx, args[0], minio.ListObjectsOptions{Prefix: args[1], Recursive: true}) {
		ts.Check(obj.Err)
		ts.Check(client.RemoveObject(ctx, args[0], obj.Key, minio.RemoveObjectOptions{}))
		n++
	}
	if n == 0 {
		ts.Fatalf("s3rm: no object under %s/%s", args[0], args[1])
	}
	ts.Logf("removed %d object(s)", n)
}
