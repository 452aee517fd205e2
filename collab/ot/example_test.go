package ot_test

import (
	"fmt"

	"github.com/cowrite/cowrite/collab/ot"
)

func Example() {
	doc := ot.NewDoc("hi there 😀")
	op, err := ot.Parse([]byte(`[3,{"d":5},"world"]`))
	if err != nil {
		panic(err)
	}
	next, err := doc.Apply(op)
	if err != nil {
		panic(err)
	}
	fmt.Println(next, next.Len(), next.Size())
	fmt.Println(doc) // unchanged
	// Output:
	// hi world 😀 10 13
	// hi there 😀
}

func ExampleTransform() {
	// Two users insert at position 2 of the same document at once.
	mine := ot.Op{ot.Retain(2), ot.Ins("x")}
	theirs := ot.Op{ot.Retain(2), ot.Ins("y")}
	left, _ := ot.Transform(mine, theirs, ot.Left)
	right, _ := ot.Transform(mine, theirs, ot.Right)
	fmt.Println(left, right)
	// Output: [2,"x"] [3,"x"]
}

func ExampleDoc_Apply_strict() {
	_, err := ot.NewDoc("abc").Apply(ot.Op{ot.Retain(1), ot.DelText("bX")})
	fmt.Println(err)
	// Output: ot: invalid op: component 1: delete text does not match the document at position 1
}

func ExampleMakeInvertible() {
	doc := ot.NewDoc("hello world")
	op := ot.Op{ot.Retain(5), ot.Del(6), ot.Ins("!")}
	inv, _ := ot.MakeInvertible(op, doc)
	undo, _ := ot.Invert(inv)
	fmt.Println(inv, undo)
	// Output: [5,{"d":" world"},"!"] [5," world",{"d":"!"}]
}

func ExampleTransformSelection() {
	op := ot.Op{ot.Ins("😀😀"), ot.Retain(3), ot.Del(2)}
	fmt.Println(ot.TransformSelection(ot.Selection{Anchor: 1, Head: 4}, op))
	// Output: {3 5}
}
