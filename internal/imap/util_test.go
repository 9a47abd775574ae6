package imap

import "fmt"

func fmtAny(x any) string { return fmt.Sprint(x) }

func fmtType(x any) string { return fmt.Sprintf("%T", x) }
