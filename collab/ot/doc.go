// Package ot implements the plain-text operational-transformation type of
// Cowrite, exactly compatible with the npm package ot-text-unicode 4.x (the
// ShareDB "text-unicode" type), plus an immutable rope that holds document
// text.
//
// Draft: see the final package documentation.
package ot
