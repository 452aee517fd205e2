package auth_test

import (
	"fmt"
	"time"

	"github.com/cowrite/cowrite/auth"
)

func Example() {
	secret := []byte("an-example-secret-of-32-bytes-or-more")
	tok, err := auth.Mint(secret, auth.Claims{
		Subject: "u-42",
		Name:    "Ada",
		Docs:    map[string]auth.Role{"*": auth.RoleViewer, "team-*": auth.RoleEditor},
	}, time.Hour)
	if err != nil {
		panic(err)
	}

	a, err := auth.New(&auth.Options{Mode: auth.Token, Secret: secret})
	if err != nil {
		panic(err)
	}
	id, err := a.Authenticate(tok)
	if err != nil {
		panic(err)
	}
	fmt.Println(id.UserID, id.Name)
	fmt.Println(id.Role("readme"), id.Can(auth.Write, "readme"))
	fmt.Println(id.Role("team-plan"), id.Can(auth.Write, "team-plan"), id.Can(auth.Delete, "team-plan"))

	_, err = a.Authenticate("")
	fmt.Println(err)
	// Output:
	// u-42 Ada
	// viewer false
	// editor true false
	// auth: unauthorized: missing token
}
