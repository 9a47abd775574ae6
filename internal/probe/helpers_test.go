package probe

import (
	"fmt"
	"time"
)

type timeDuration = time.Duration

const msec = time.Millisecond

func fmtAny(v any) string { return fmt.Sprint(v) }
