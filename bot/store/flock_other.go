//go:build !unix

package store

import (
	"errors"
	"os"
)

func flockExclusive(*os.File) (bool, error) {
	return false, errors.New("run locks on SQLite need a unix system; use PostgreSQL")
}
