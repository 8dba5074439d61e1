package repo_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"strings"

	"github.com/hotpipe/hotpipe/repo"
)

// A store is opened by URL; objects are created once and never replaced.
func ExampleOpenStore() {
	dir, err := os.MkdirTemp("", "repo-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	ctx := context.Background()
	// s3://bucket/prefix works the same, with repo.StoreOptions{}.WithEnv(os.Getenv).
	st, err := repo.OpenStore(ctx, dir, repo.StoreOptions{})
	if err != nil {
		log.Fatal(err)
	}
	for _, name := range []string{"foo/b", "foo/a", "bar/a"} {
		if err := st.Create(ctx, name, strings.NewReader("frames of "+name), -1); err != nil {
			log.Fatal(err)
		}
	}
	err = st.Create(ctx, "foo/a", strings.NewReader("other frames"), -1)
	fmt.Println("second create refused:", errors.Is(err, repo.ErrExist))

	for info, err := range st.List(ctx, "foo/", "") {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(info.Name, info.Size)
	}

	obj, err := st.Open(ctx, "foo/a")
	if err != nil {
		log.Fatal(err)
	}
	defer obj.Close()
	b, err := io.ReadAll(obj)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s\n", b)
	// Output:
	// second create refused: true
	// foo/a 15
	// foo/b 15
	// frames of foo/a
}
