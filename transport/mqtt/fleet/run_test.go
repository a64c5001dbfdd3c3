package fleet

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"edge-agent/transport/testenv"
)

// devices answers requests on cmd/script:x as the agents named in
// replies would: each reply it is given, in order, on the request's reply
// topic. A device without replies does not answer.
func devices(t *testing.T, url string, replies map[string][]map[string]any) {
	t.Helper()
	c := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID("devices"))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	tok := c.Subscribe("edge/+/cmd/script:x", 1, func(c paho.Client, m paho.Message) {
		device := strings.Split(m.Topic(), "/")[1]
		for _, r := range replies[device] {
			b, _ := json.Marshal(r)
			c.Publish(m.Topic()+"/reply", 1, false, b)
		}
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
}

func result(by string, counter uint64, output string, exit int) map[string]any {
	return map[string]any{"by": by, "counter": counter, "output": output, "exit_code": exit}
}

// Each device's answer is the reply naming the request's counter and key
// (or the broker, for a device in broker mode); replies to other requests
// are not taken for it; a device that does not answer by the deadline is
// reported so.
func TestRunMatchesRepliesToRequests(t *testing.T) {
	m := testenv.StartMosquitto(t)
	devices(t, m.URL, map[string][]map[string]any{
		"a": {
			{"ok": true, "result": result("SHA256:other", 5, "someone else's", 0)},
			{"ok": false, "code": "replay", "result": result("SHA256:me", 4, "", 0)},
			{"ok": true, "result": result("SHA256:me", 5, "line one\r\nline two\n", 0)},
		},
		"b": {{"ok": false, "code": "failed", "error": "script:x exited with status 2", "result": result(ByBroker, 6, "oops\x1b[2J", 2)}},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	w, err := Watch(ctx, Options{Broker: m.URL, Prefix: "edge"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	rctx, rcancel := context.WithTimeout(ctx, 2*time.Second)
	defer rcancel()
	answers, err := w.Run(rctx, "script:x", []Request{
		{Device: "a", Payload: []byte("signed a"), Counter: 5, By: "SHA256:me"},
		{Device: "b", Payload: []byte("signed b"), Counter: 6, By: "SHA256:me"},
		{Device: "c", Payload: []byte("signed c"), Counter: 7, By: "SHA256:me"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []Answer{
		{Device: "a", Answered: true, OK: true, FirstLine: "line one"},
		{Device: "b", Answered: true, Code: "failed", Error: "script:x exited with status 2", ExitCode: 2, FirstLine: "oops\x1b[2J"},
		{Device: "c"},
	}
	for i := range want {
		if answers[i] != want[i] {
			t.Errorf("answer %d: %+v, want %+v", i, answers[i], want[i])
		}
	}
	// The same for a script: raw bytes a device sent stay escaped, and
	// decode to what it sent.
	var js bytes.Buffer
	if err := WriteRunJSON(&js, answers); err != nil {
		t.Fatal(err)
	}
	wantJSON := `[{"device":"a","answered":true,"ok":true,"exit_code":0,"first_line":"line one"},` +
		`{"device":"b","answered":true,"ok":false,"code":"failed","error":"script:x exited with status 2","exit_code":2,"first_line":"oops\u001b[2J"},` +
		`{"device":"c","answered":false,"ok":false,"exit_code":0}]` + "\n"
	if js.String() != wantJSON {
		t.Errorf("WriteRunJSON:\n%s\nwant:\n%s", js.String(), wantJSON)
	}
	var back []Answer
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || len(back) != 3 || back[1] != want[1] {
		t.Errorf("WriteRunJSON decodes to %+v (%v)", back, err)
	}
	var out bytes.Buffer
	WriteRunTable(&out, answers, 2*time.Second)
	for _, line := range []string{
		"DEVICE  RESULT     DETAIL",
		"a       ok         line one",
		`b       failed     failed: script:x exited with status 2 | oops\x1b[2J`,
		"c       no answer  no reply within 2s",
	} {
		if !strings.Contains(out.String(), line+"\n") {
			t.Errorf("table lacks %q:\n%s", line, out.String())
		}
	}
}

func TestFirstLine(t *testing.T) {
	for in, want := range map[string]string{"": "", "a\nb": "a", "a\r\n": "a", strings.Repeat("x", 2000): strings.Repeat("x", MaxFirstLine)} {
		if got := firstLine(in); got != want {
			t.Errorf("firstLine(%.20q) = %.20q", in, got)
		}
	}
}

func TestAnswerOf(t *testing.T) {
	req := Request{Device: "d", Counter: 7, By: "SHA256:me"}
	for _, tc := range []struct {
		name    string
		payload string
		ok      bool
		want    Answer
	}{
		{"ok", `{"ok":true,"result":{"by":"SHA256:me","counter":7,"output":"a\nb"}}`, true, Answer{Device: "d", Answered: true, OK: true, FirstLine: "a"}},
		{"broker mode", `{"ok":false,"code":"busy","error":"e","result":{"by":"broker","counter":7}}`, true, Answer{Device: "d", Answered: true, Code: "busy", Error: "e"}},
		{"another counter", `{"ok":true,"result":{"by":"SHA256:me","counter":8}}`, false, Answer{}},
		{"another key", `{"ok":true,"result":{"by":"SHA256:you","counter":7}}`, false, Answer{}},
		{"no result", `{"ok":false,"code":"malformed"}`, false, Answer{}},
		{"not JSON", `PRESS`, false, Answer{}},
		{"counter as a string", `{"ok":true,"result":{"by":"SHA256:me","counter":"7"}}`, false, Answer{}},
		{"negative counter", `{"ok":true,"result":{"by":"SHA256:me","counter":-7}}`, false, Answer{}},
		{"empty", ``, false, Answer{}},
	} {
		got, ok := answerOf(req, []byte(tc.payload))
		if ok != tc.ok || got != tc.want {
			t.Errorf("%s: %+v %v, want %+v %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

// Whatever a device (or anyone who may publish on the reply topics)
// sends, reading it neither fails nor takes it for another request's
// answer, and what is kept of the output is bounded.
func FuzzAnswerOf(f *testing.F) {
	f.Add([]byte(`{"ok":true,"result":{"by":"SHA256:me","counter":7,"output":"a\nb"}}`))
	f.Add([]byte(`{"result":{"by":"broker","counter":7},"code":"failed"}`))
	f.Add([]byte(`{"result":{"counter":18446744073709551615}}`))
	req := Request{Device: "d", Counter: 7, By: "SHA256:me"}
	f.Fuzz(func(t *testing.T, payload []byte) {
		a, ok := answerOf(req, payload)
		if !ok {
			return
		}
		var rep actionReply
		if json.Unmarshal(payload, &rep) != nil || rep.Result.Counter != 7 || len(a.FirstLine) > MaxFirstLine || !a.Answered || a.Device != "d" {
			t.Fatalf("answerOf(%q) = %+v", payload, a)
		}
	})
}
