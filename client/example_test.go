package client_test

import (
	"context"
	"fmt"

	"github.com/cowrite/cowrite/client"
)

// Two agents edit one document: each sees the other's edit, transformed
// onto its own text.
func Example() {
	url, stop := startServer()
	defer stop()
	ctx := context.Background()

	alice, err := client.Dial(ctx, url, &client.Options{Name: "alice"})
	if err != nil {
		panic(err)
	}
	defer alice.Close()
	bob, err := client.Dial(ctx, url, &client.Options{Name: "bob"})
	if err != nil {
		panic(err)
	}
	defer bob.Close()

	a, _ := alice.Open(ctx, "notes")
	b, _ := bob.Open(ctx, "notes")

	_ = a.Insert(0, "Hello")
	ch, _ := b.Next(ctx) // alice's op, committed as version 1
	fmt.Println(ch.Version, b.Text())

	_ = b.Insert(b.Len(), ", world")
	_, _ = a.Next(ctx)
	fmt.Println(a.Version(), a.Text())
	// Output:
	// 1 Hello
	// 2 Hello, world
}
