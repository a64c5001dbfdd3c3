package texttime_test

import (
	"errors"
	"fmt"
	"time"

	"edge-agent/transport/texttime"
)

func ExampleAppendFormat() {
	t := time.Date(2023, 11, 14, 23, 13, 20, 0, time.FixedZone("CET", 3600))
	fmt.Printf("%s\n", texttime.AppendFormat(nil, texttime.DefaultFormat, t))
	fmt.Printf("%s\n", texttime.AppendFormat(nil, "%5Y|%-d|%_d|%#b|%^a|%s|%z|%#Z|%Q|%", t))
	fmt.Printf("%s\n", texttime.AppendFormat(nil, "时间 %H:%M", t))

	_, err := texttime.AppendFormatLimit(nil, "%999999999Y", t, texttime.MaxReply)
	fmt.Println(errors.Is(err, texttime.ErrTooLong))
	// Output:
	// 2023-11-14-23:13:20
	// 02023|14|14|NOV|TUE|1700000000|+0100|cet|%Q|%
	// 时间 23:13
	// true
}
