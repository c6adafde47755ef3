package emit

import "fmt"

// badOutput is replaced by the spool branch's (document.go) at the merge.
func badOutput(format string, args ...any) error { return fmt.Errorf(format, args...) }
