package texttime

import (
	"strings"
	"testing"
)

func TestReplyLimit(t *testing.T) {
	for n, want := range map[int]int{0: 64, 1: 68, 4: 80, 239: 1020, 240: 1024, 241: 1024, 65507: 1024} {
		if got := ReplyLimit(n); got != want {
			t.Errorf("ReplyLimit(%d) = %d, want %d", n, got, want)
		}
	}
}

func TestReplies(t *testing.T) {
	pad250 := strings.Repeat("x", 250)
	for _, tc := range []struct {
		name, req, want string
		outcome         outcome
	}{
		{"empty datagram means the seed's default", "", "2023-11-14-23:13:20", answered},
		{"a format", "%A %d %B %Y", "Tuesday 14 November 2023", answered},
		{"non-ASCII text is kept", "时间 %H:%M", "时间 23:13", answered},
		{"a lone byte that is not UTF-8", "\xff", errUTF8, badUTF8},
		{"a cut multi-byte character", "%H \xe6\x97", errUTF8, badUTF8},
		{"a continuation byte alone", "\x80%H", errUTF8, badUTF8},
		{"an overlong encoding", "\xc0\xaf", errUTF8, badUTF8},
		{"an encoded surrogate", "\xed\xa0\x80", errUTF8, badUTF8},
		{"beyond U+10FFFF", "\xf4\x90\x80\x80", errUTF8, badUTF8},
		{"Latin-1 rather than UTF-8", "Zeit \xe9t\xe9 %H", errUTF8, badUTF8},
		{"a NUL", "%H\x00%M", errNUL, hasNUL},
		{"only a NUL", "\x00", errNUL, hasNUL},
		{"bad UTF-8 is reported before a NUL", "\x00\xff", errUTF8, badUTF8},
		{"a huge width", "%1000Y", errTooLong + "88 bytes", tooLong},
		{"glibc's widest width", "%2147483647Y", errTooLong + "112 bytes", tooLong},
		{"%c repeated past 1024 bytes", strings.Repeat("%c", 300), errTooLong + "1024 bytes", tooLong},
		{"%c four times fills its bound", strings.Repeat("%c", 4), strings.Repeat("Tue Nov 14 23:13:20 2023", 4), answered},
		{"%c five times is past it", strings.Repeat("%c", 5), errTooLong + "104 bytes", tooLong},
		{"exactly at the request's bound", "%80Y", strings.Repeat("0", 76) + "2023", answered},
		{"one byte over the request's bound", "%81Y", errTooLong + "80 bytes", tooLong},
		{"exactly 1024 bytes", pad250 + "%774Y", pad250 + strings.Repeat("0", 770) + "2023", answered},
		{"1025 bytes", pad250 + "%775Y", errTooLong + "1024 bytes", tooLong},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, o := appendReply(nil, []byte(tc.req), berlinNov14)
			if string(got) != tc.want || o != tc.outcome {
				t.Errorf("reply %.80q (outcome %d), want %.80q (outcome %d)", got, o, tc.want, tc.outcome)
			}
			if len(got) > ReplyLimit(len(tc.req)) {
				t.Errorf("reply of %d bytes to a %d-byte request, over %d", len(got), len(tc.req), ReplyLimit(len(tc.req)))
			}
		})
	}
}
