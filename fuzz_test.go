package mesosgot

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Fuzz targets of the decoders that take input from outside the process
// (run with `make fuzz FUZZTIME=30s`); the envelope and single messages
// are fuzzed in envelope_test.go.

// FuzzTaskInfoData: TaskInfo.Data of any bytes decodes (either version) or
// is refused, never panics, and what decodes encodes back to the same.
func FuzzTaskInfoData(f *testing.F) {
	f.Add(encodeTaskData([]string{"a", "b c"}, map[string]string{"K": "V"}))
	f.Add(encodeTaskInfoData(taskData{Args: []string{"x"}, Env: map[string]string{"A": ""},
		Link: taskLinkParams{Key: testLinkKey, ExecutorID: "mesosgot-executor-a1", Encrypt: true, Timeout: 30 * time.Second}}))
	f.Add([]byte{})
	f.Add([]byte{2, 0, 0, 32})
	f.Fuzz(func(t *testing.T, data []byte) {
		td, err := decodeTaskInfoData(data)
		if err != nil {
			return
		}
		if td.Link.Key != nil && len(td.Link.Key) != linkKeySize {
			t.Fatalf("key of %d bytes accepted", len(td.Link.Key))
		}
		var again []byte
		if td.Link.Key == nil {
			again = encodeTaskData(td.Args, td.Env)
		} else {
			again = encodeTaskInfoData(td)
		}
		td2, err := decodeTaskInfoData(again)
		require.NoError(t, err)
		if len(td.Args) == 0 {
			td.Args = nil
		}
		assert.Equal(t, td, td2)
	})
}

// linkFuzzMsgs is the stream of messages the link fuzzer sends: sizes from
// empty to several frames (fragmented), over three streams.
func linkFuzzMsgs(n int) []GoTaskMsg {
	out := make([]GoTaskMsg, n)
	for i := range out {
		size := (i * 977) % 9000
		if i%3 == 0 {
			size %= 40
		}
		out[i] = GoTaskMsg{TaskName: fmt.Sprintf("t-%d", i%3), MessageData: fmt.Sprintf("%d:", i) + strings.Repeat("x", size)}
	}
	return out
}

// FuzzLinkFrames feeds a sealed link (the executor's end) the scheduler's
// real frames in an order the fuzzer chooses (delivered, dropped,
// duplicated, replayed late, bit-flipped) mixed with forged frames, and
// checks the invariant: no forged or replayed frame changes what the app
// receives. Once the two ends settle the executor has received every
// message the scheduler sent, once each, in order per stream.
func FuzzLinkFrames(f *testing.F) {
	f.Add([]byte{0, 20, 0, 0, 4, 0, 2, 0, 5, 7, 1, 0, 3})
	f.Add([]byte{1, 40, 6, 6, 6, 0, 1, 2, 3, 2, 9, 5, 200, 0x02, 0x00, 4, 4, 4})
	f.Add([]byte{0, 5, 5, 18, 3, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0})
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) < 2 {
			return
		}
		encrypt := ops[0]&1 != 0
		want := linkFuzzMsgs(int(ops[1]%48) + 1)
		ops = ops[2:]
		cfg := linkConfig{MaxBatchMsgs: 8, MaxFrameBytes: minFrameBytes, WindowMsgs: 64, WindowBytes: 32 << 10,
			TaskCredit: 8, TaskQueue: 4, AckDelayTicks: 1, RTOTicks: 4, MaxRTOTicks: 16, MaxMsgBytes: 16 << 10,
			QueueBytes: 64 << 10, MaxInflightFrames: 2}
		sched, exe := newLink(cfg, 0x5c), newLink(cfg, 0xe1)
		sealLink(t, sched, testLinkKey, "exec-1", true, encrypt)
		sealLink(t, exe, testLinkKey, "exec-1", false, encrypt)

		var toExe, toSched, seen []string // frames in flight each way; frames the executor took
		var got []GoTaskMsg
		next := 0
		step := func() {
			for next < len(want) && sched.CanSend(want[next].TaskName) {
				require.NoError(t, sched.Send(want[next]))
				next++
			}
			fs, _ := sched.Ready()
			toExe = append(toExe, fs...)
			fs, del := exe.Ready()
			toSched = append(toSched, fs...)
			for _, m := range del {
				got = append(got, m)
				exe.Consumed(m.TaskName, 1)
			}
		}
		recvExe := func(fr string, real bool) {
			before := len(got)
			err := exe.Recv(fr)
			if real && err == nil && len(seen) < 512 {
				seen = append(seen, fr)
			}
			if !real && err == nil {
				t.Fatalf("a forged frame was accepted")
			}
			if !real && len(got) != before {
				t.Fatalf("a forged frame delivered messages")
			}
		}
		arg := func(i *int) int {
			if *i+1 < len(ops) {
				*i++
				return int(ops[*i])
			}
			return 0
		}
		for i := 0; i < len(ops); i++ {
			step()
			switch ops[i] % 8 {
			case 0: // deliver the oldest frame to the executor
				if len(toExe) > 0 {
					fr := toExe[0]
					toExe = toExe[1:]
					recvExe(fr, true)
				}
			case 1: // lose it
				if len(toExe) > 0 {
					toExe = toExe[1:]
				}
			case 2: // replay a frame seen earlier
				if len(seen) > 0 {
					fr := seen[arg(&i)%len(seen)]
					if err := exe.Recv(fr); err == nil {
						t.Fatalf("a replayed frame was accepted")
					}
				}
			case 3: // deliver everything the executor sent
				for _, fr := range toSched {
					_ = sched.Recv(fr)
				}
				toSched = nil
			case 4:
				sched.Tick()
				exe.Tick()
			case 5: // a frame with one bit flipped
				if len(seen) > 0 {
					b := []byte(seen[arg(&i)%len(seen)])
					k := arg(&i)
					b[k%len(b)] ^= 1 << (k % 8)
					recvExe(string(b), false)
				}
			case 6: // deliver frames out of order
				if len(toExe) > 1 {
					k := arg(&i) % len(toExe)
					fr := toExe[k]
					toExe = append(toExe[:k], toExe[k+1:]...)
					recvExe(fr, true)
				}
			case 7: // forged bytes from the rest of the input
				n := arg(&i)
				end := min(i+1+n, len(ops))
				recvExe(string(ops[i+1:end]), false)
				i = end - 1
			}
		}
		// Settle: a lossless network from now on.
		for k := 0; k < 20000 && !(next == len(want) && len(got) == len(want) && sched.Idle() && exe.Idle() && len(toExe) == 0 && len(toSched) == 0); k++ {
			step()
			if len(toExe) == 0 && len(toSched) == 0 {
				sched.Tick()
				exe.Tick()
				continue
			}
			for _, fr := range toExe {
				recvExe(fr, true)
			}
			toExe = nil
			for _, fr := range toSched {
				_ = sched.Recv(fr)
			}
			toSched = nil
		}
		perStream := func(ms []GoTaskMsg) map[string][]string {
			out := map[string][]string{}
			for _, m := range ms {
				out[m.TaskName] = append(out[m.TaskName], m.MessageData)
			}
			return out
		}
		require.Equal(t, perStream(want), perStream(got), "every message once, in order per stream")
		require.Zero(t, exe.Stats().PeerRestarts)
	})
}

// FuzzLinkPeerFrames feeds an unsealed link frames decoded from fuzz input
// as if from its peer (the protocol alone, without authentication): it
// never panics, never holds more than its window, and never skips ahead of
// what it acknowledged.
func FuzzLinkPeerFrames(f *testing.F) {
	one := encodeFrame(&frame{SrcEpoch: 7, DstEpoch: 1, Ack: 1, Base: 1, Records: []frameRecord{{Kind: recMsg, Seq: 1, Stream: "s", Data: "a"}}})
	f.Add([]byte(one + "\n" + one))
	f.Add([]byte(encodeFrame(&frame{SrcEpoch: 7, DstEpoch: 1, Ack: 1, Base: 1 << 40})))
	f.Fuzz(func(t *testing.T, in []byte) {
		cfg := linkConfig{WindowMsgs: 16, WindowBytes: 4096, MaxMsgBytes: 1 << 12, TaskCredit: 4}
		l := newLink(cfg, 1)
		require.NoError(t, l.Send(GoTaskMsg{TaskName: "s", MessageData: "mine"}))
		l.Ready()
		for _, part := range bytes.Split(in, []byte("\n")) {
			before := l.expected
			peer := l.peerEpoch
			var fr frame
			records := 0
			if decodeFrame(string(part), &fr) == nil {
				records = len(fr.Records)
			}
			_ = l.Recv(string(part))
			if peer != 0 && peer == l.peerEpoch && l.expected > before && l.expected-before > uint64(records+cfg.WindowMsgs) {
				t.Fatalf("expected jumped from %d to %d within one session", before, l.expected)
			}
			if l.ringCount > cfg.WindowMsgs || l.ringBytes > cfg.WindowBytes+minFrameBytes*2 {
				t.Fatalf("reorder buffer %d records %d bytes", l.ringCount, l.ringBytes)
			}
			l.Tick()
			_, del := l.Ready()
			for _, m := range del {
				l.Consumed(m.TaskName, 1)
			}
		}
	})
}
