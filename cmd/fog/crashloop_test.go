package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ipfs/go-datastore/query"
	recpb "github.com/libp2p/go-libp2p-record/pb"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/fog-compute/fog/chat"
	"github.com/fog-compute/fog/chat/dm"
	"github.com/fog-compute/fog/compute"
	"github.com/fog-compute/fog/dht"
	"github.com/fog-compute/fog/mix/lottery"
	"github.com/fog-compute/fog/node"
	"github.com/fog-compute/fog/p2p"
	"github.com/fog-compute/fog/store"
)

// crashRestarts is how many times TestCrashLoops kills and restarts the
// daemon for each kind of durable write: a few in make test, 50 in make
// crashloops.
var crashRestarts = flag.Int("crash.restarts", 2, "kill -9 and restarts of the daemon per kind of durable write")

const (
	// crashWriters write concurrently, so that the kill lands among
	// writes in flight.
	crashWriters = 4
	// crashMaxBurst bounds the writes acknowledged between two kills;
	// each round draws its count in [0, crashMaxBurst], 0 killing the
	// daemon as soon as its API answers (while it still starts up).
	crashMaxBurst = 40
)

// crashAck is one acknowledged write: what the RPC returned.
type crashAck struct {
	id    string // the task, record name, post or message
	extra string // the task's module
}

// crashKind is one kind of durable write: write makes one over the RPC of
// daemon a (or of the survivor b, to a), and returns what identifies it
// once the call returned; checkStore counts the acknowledged writes missing
// from a's store, opened directly while the daemon is dead; checkRPC
// counts those a's restarted daemon does not know.
type crashKind struct {
	name string
	// maxBurst, if set, replaces crashMaxBurst: posts are rate-limited,
	// and a mailbox host keeps a bounded number of items from one sender.
	maxBurst int
	// configure, if set, edits the configuration of both daemons before
	// either starts, knowing both peer IDs.
	configure  func(cfg *node.Config, a, b peer.ID, now time.Time)
	setup      func(t *testing.T, n *crashNet)
	write      func(ctx context.Context, n *crashNet, i int) (crashAck, error)
	checkStore func(t *testing.T, n *crashNet, db *store.DB, acks []crashAck) (missing []string)
	checkRPC   func(t *testing.T, n *crashNet, acks []crashAck) (missing []string)
}

// crashNet is the victim daemon a, killed and restarted, and the survivor
// b it bootstraps from, which runs throughout.
type crashNet struct {
	a, b   string // data directories
	aID    peer.ID
	bID    peer.ID
	ac, bc *node.Client
	cmd    *exec.Cmd
	logs   *syncBuffer
	mu     sync.Mutex
	seen   map[string]compute.State // the tasks' terminal states, as last seen
	nobody peer.ID                  // a peer that never comes online
	away   peer.ID                  // a peer that came online once and left
	// The claim kind's writers read the victim's log claimLog from
	// claimPos, and have acknowledged the claims of the epochs in claimed;
	// claimsChecked counts the claims looked for in the store.
	claimLog      *syncBuffer
	claimPos      int
	claimed       map[string]bool
	claimsChecked int
}

// TestCrashLoops kills a fog daemon with SIGKILL at random moments while
// concurrent writers make durable writes of one kind through its JSON-RPC
// API, restarts it, and checks after every kill that its store opens (with
// checksum verification, which store.Open always does) and holds every
// write acknowledged before the kill (a write is acknowledged when its RPC
// returned), and after every restart that the daemon serves them. Kinds:
// task submissions and the queue's transitions (a task seen finished stays
// finished), the module cache, the node's DHT records, channel posts, and
// direct messages, both received (acknowledged by the sender's "delivered",
// which the receiver's receipt makes) and sent (kept for retrying until
// settled), the mailbox items a hosts for an absent peer, and the relay
// lottery's claims,
// which no RPC triggers: a is the only candidate of a lottery of 5-second
// epochs and claims every epoch by itself, acknowledged by its log line
// once the claim is synced (see lotteryPair). Each kind ends with a line
// "crashloop KIND: restarts N, acknowledged W, lost L".
func TestCrashLoops(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts fog daemons")
	}
	for _, k := range crashKinds() {
		t.Run(k.name, func(t *testing.T) { runCrashLoop(t, k, *crashRestarts) })
	}
}

func crashKinds() []crashKind {
	return []crashKind{
		{name: "task", write: writeTask, checkStore: checkModules, checkRPC: checkTasks},
		{name: "dht", write: writeRecord, checkStore: checkRecords},
		{name: "channel", maxBurst: 15, setup: joinChannel, write: writePost, checkRPC: checkPosts},
		{name: "dm-received", write: writeDMIn, checkStore: checkInbox},
		{name: "dm-sent", write: writeDMOut, checkStore: checkOutgoing},
		{name: "mailbox", maxBurst: 1, configure: roomyMailboxes, setup: awayRecipient, write: writeMail, checkStore: checkMailbox},
		{name: "claim", maxBurst: 3, configure: lotteryPair, write: writeClaim, checkStore: checkClaims, checkRPC: checkNoEquivocation},
	}
}

// newCrashNet starts the survivor daemon and initialises the victim's
// data directory at dir (a temporary one if empty), bootstrapping from it.
// configure, if not nil, edits both daemons' configurations first.
func newCrashNet(t *testing.T, dir string, configure func(cfg *node.Config, self, a peer.ID, now time.Time)) *crashNet {
	n := &crashNet{seen: map[string]compute.State{}, claimed: map[string]bool{}}
	n.b = initDir(t)
	if dir == "" {
		n.a = initDir(t)
	} else {
		n.a = dir
		_, _, err := fog(t, context.Background(), "init", "--path", dir, "--api", "127.0.0.1:0", "--listen", "/ip4/127.0.0.1/tcp/0")
		require.NoError(t, err)
	}
	if configure != nil {
		aID, now := dirPeer(t, n.a), time.Now()
		for _, d := range []string{n.a, n.b} {
			cfg, err := node.DataDir(d).LoadConfig()
			require.NoError(t, err)
			configure(&cfg, dirPeer(t, d), aID, now)
			b, err := node.MarshalConfig(cfg)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(node.DataDir(d).Config(), b, 0o644))
		}
	}
	bcmd, blogs := fogChild(t, "run", "--path", n.b)
	t.Cleanup(func() {
		_ = bcmd.Process.Signal(syscall.SIGTERM)
		_ = bcmd.Wait()
		if t.Failed() {
			t.Logf("survivor's log:\n%s", blogs)
		}
	})
	n.bc = waitAPI(t, n.b)
	var bst node.Status
	require.NoError(t, n.bc.Call(t.Context(), "node.status", nil, &bst))
	n.bID = mustDecodePeer(t, bst.PeerID)
	var boot string
	for _, a := range bst.ListenAddrs {
		if strings.Contains(a, "/tcp/") {
			boot = a + "/p2p/" + bst.PeerID
		}
	}
	require.NotEmpty(t, boot, "the survivor listens on TCP")

	cfg, err := node.DataDir(n.a).LoadConfig()
	require.NoError(t, err)
	cfg.P2P.MDNS, cfg.P2P.AutoNAT, cfg.P2P.HolePunching, cfg.P2P.RelayClient = false, false, false, false
	cfg.P2P.Bootstrap = []string{boot}
	b, err := node.MarshalConfig(cfg)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(node.DataDir(n.a).Config(), b, 0o644))
	_, pub, err := crypto.GenerateEd25519Key(nil)
	require.NoError(t, err)
	n.nobody, err = peer.IDFromPublicKey(pub)
	require.NoError(t, err)
	return n
}

func runCrashLoop(t *testing.T, k crashKind, restarts int) {
	n := newCrashNet(t, "", k.configure)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 17))
	var acks []crashAck
	lost := map[string]bool{}
	count := func(what string, missing []string) {
		for _, id := range missing {
			if !lost[id] {
				lost[id] = true
				t.Errorf("%s: acknowledged %s %s lost", what, k.name, id)
			}
		}
	}
	for r := 0; r <= restarts; r++ {
		n.startA(t)
		if r == 0 && k.setup != nil {
			k.setup(t, n)
		}
		if k.checkRPC != nil {
			count(fmt.Sprintf("after restart %d", r), k.checkRPC(t, n, acks))
		}
		if r == restarts {
			n.stopA(t)
			break
		}
		burst := crashMaxBurst
		if k.maxBurst > 0 {
			burst = k.maxBurst
		}
		target := rng.IntN(burst + 1)
		if r == restarts-1 && len(acks) == 0 {
			target = max(target, 1) // every loop checks at least one write
		}
		acks = append(acks, n.writeAndKill(t, k, len(acks), target)...)
		db, err := store.Open(store.DefaultConfig(node.DataDir(n.a).Store()))
		require.NoError(t, err, "kill %d: the store opens", r+1)
		if k.checkStore != nil {
			count(fmt.Sprintf("kill %d", r+1), k.checkStore(t, n, db, acks))
		}
		require.NoError(t, db.Close())
	}
	line := fmt.Sprintf("crashloop %s: restarts %d, acknowledged %d, lost %d", k.name, restarts, len(acks), len(lost))
	if n.claimsChecked > 0 {
		line += fmt.Sprintf(" (claims looked up in the store after the kills: %d; those of older epochs are deleted by design)", n.claimsChecked)
	}
	t.Log(line)
	fmt.Println(line)
	if restarts > 0 {
		require.NotEmpty(t, acks, "no %s write was acknowledged", k.name)
	}
}

func mustDecodePeer(t *testing.T, s string) peer.ID {
	t.Helper()
	id, err := peer.Decode(s)
	require.NoError(t, err)
	return id
}

// startA starts the victim daemon and waits until its API answers: the
// daemon opened its store and started every subsystem.
func (n *crashNet) startA(t *testing.T) {
	t.Helper()
	n.logs = &syncBuffer{}
	n.cmd = exec.Command(os.Args[0], "run", "--path", n.a)
	n.cmd.Env = append(os.Environ(), "FOG_TEST_MAIN=1")
	n.cmd.Stdout, n.cmd.Stderr = n.logs, n.logs
	require.NoError(t, n.cmd.Start())
	t.Cleanup(func() {
		if n.cmd.ProcessState == nil {
			_ = n.cmd.Process.Kill()
			_ = n.cmd.Wait()
		}
	})
	// A killed daemon leaves its API address behind: wait for the new one.
	_ = os.Remove(node.DataDir(n.a).Addr())
	n.ac = waitAPI(t, n.a)
	if n.aID == "" {
		var st node.Status
		require.NoError(t, n.ac.Call(t.Context(), "node.status", nil, &st))
		n.aID = mustDecodePeer(t, st.PeerID)
	}
}

// stopA stops the victim daemon cleanly, once it has finished starting (a
// daemon stopped while it starts exits with an error, on purpose).
func (n *crashNet) stopA(t *testing.T) {
	t.Helper()
	deadline := time.After(time.Minute)
	for !strings.Contains(n.logs.String(), "node started") {
		select {
		case <-n.logs.updated():
		case <-deadline:
			t.Fatalf("the daemon did not finish starting\n%s", n.logs)
		}
	}
	require.NoError(t, n.cmd.Process.Signal(syscall.SIGTERM))
	if err := n.cmd.Wait(); err != nil {
		t.Errorf("the daemon's clean stop: %v\n%s", err, n.logs)
	}
}

// writeAndKill runs crashWriters writers of k until target writes were
// acknowledged, kills the daemon with SIGKILL while they write, and
// returns the writes acknowledged, numbered from base.
func (n *crashNet) writeAndKill(t *testing.T, k crashKind, base, target int) []crashAck {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var (
		mu    sync.Mutex
		acks  []crashAck
		next  = base
		fails []error
	)
	acked := make(chan struct{}, 1)
	var wg sync.WaitGroup
	for range crashWriters {
		wg.Go(func() {
			for ctx.Err() == nil {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				a, err := k.write(ctx, n, i)
				mu.Lock()
				if err == nil {
					acks = append(acks, a)
				} else if ctx.Err() == nil && len(fails) < 10 {
					fails = append(fails, err)
				}
				mu.Unlock()
				if err == nil {
					select {
					case acked <- struct{}{}:
					default:
					}
					continue
				}
				// Not acknowledged (the node not ready yet, a limit): try
				// again shortly, without spinning.
				select {
				case <-ctx.Done():
				case <-time.After(20 * time.Millisecond):
				}
			}
		})
	}
	deadline := time.After(2 * time.Minute)
	for {
		mu.Lock()
		got := len(acks)
		mu.Unlock()
		if got >= target {
			break
		}
		select {
		case <-acked:
		case <-deadline:
			cancel()
			wg.Wait()
			t.Fatalf("%d of %d %s writes acknowledged in 2 minutes; errors: %v\n%s", got, target, k.name, fails, n.logs)
		}
	}
	require.NoError(t, n.cmd.Process.Signal(syscall.SIGKILL))
	err := n.cmd.Wait()
	var exit *exec.ExitError
	require.True(t, errors.As(err, &exit), "daemon: %v\n%s", err, n.logs)
	require.Equal(t, "signal: killed", exit.Error(), "the daemon died of the kill\n%s", n.logs)
	n.ac.Close()
	// Writes through the survivor would wait for a's return: the kill
	// ends them, unacknowledged.
	cancel()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	return acks
}

// uniqueModule is echo.wasm with a custom section naming i appended: a
// valid module of its own ID.
func uniqueModule(i int) []byte {
	name := "fog-crashloop"
	payload := fmt.Appendf(nil, "write %d", i)
	body := append([]byte{byte(len(name))}, name...)
	body = append(body, payload...)
	mod := append([]byte(nil), echoWasm...)
	mod = append(mod, 0) // custom section
	for v := uint(len(body)); ; {
		b := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			mod = append(mod, b|0x80)
			continue
		}
		mod = append(mod, b)
		break
	}
	return append(mod, body...)
}

func writeTask(ctx context.Context, n *crashNet, i int) (crashAck, error) {
	var res node.TaskSubmitResult
	err := n.ac.Call(ctx, "task.submit", node.TaskSubmitParams{
		Module: uniqueModule(i), Args: []string{"echo.wasm"}, Stdin: fmt.Appendf(nil, "task %d", i),
	}, &res)
	return crashAck{id: string(res.ID), extra: res.Module}, err
}

// checkModules counts the acknowledged submissions whose module is not in
// the module cache, whole.
func checkModules(t *testing.T, n *crashNet, _ *store.DB, acks []crashAck) (missing []string) {
	dir := filepath.Join(n.a, "modules")
	for _, a := range acks {
		b, err := os.ReadFile(filepath.Join(dir, a.extra))
		if sum := sha256.Sum256(b); err != nil || hex.EncodeToString(sum[:]) != a.extra {
			missing = append(missing, "module "+a.extra)
		}
	}
	return missing
}

// checkTasks counts the acknowledged tasks the restarted daemon does not
// know, and those it knew finished that are no longer.
func checkTasks(t *testing.T, n *crashNet, acks []crashAck) (missing []string) {
	for _, a := range acks {
		var st compute.Status
		if err := n.ac.Call(t.Context(), "task.status", node.TaskIDParams{ID: a.id}, &st); err != nil {
			missing = append(missing, a.id+": "+err.Error())
			continue
		}
		n.mu.Lock()
		was, finished := n.seen[a.id]
		switch {
		case finished && st.State != was:
			missing = append(missing, fmt.Sprintf("%s's transition (%s, now %s)", a.id, was, st.State))
		case st.State == compute.StateDone || st.State == compute.StateFailed || st.State == compute.StateCancelled:
			n.seen[a.id] = st.State
		}
		n.mu.Unlock()
	}
	return missing
}

func writeRecord(ctx context.Context, n *crashNet, i int) (crashAck, error) {
	name := fmt.Sprintf("crash-%d", i)
	var rec node.DHTRecord
	err := n.ac.Call(ctx, "dht.put", node.DHTPutParams{Name: name, Value: fmt.Sprintf("value %d", i)}, &rec)
	return crashAck{id: name}, err
}

// checkRecords counts the acknowledged records of a's that are not in its
// DHT's part of the store.
func checkRecords(t *testing.T, n *crashNet, db *store.DB, acks []crashAck) (missing []string) {
	have := map[string]bool{}
	res, err := db.Datastore(store.PrefixDHT).Query(t.Context(), query.Query{})
	require.NoError(t, err)
	for r := range res.Next() {
		require.NoError(t, r.Error)
		var rec recpb.Record
		if proto.Unmarshal(r.Value, &rec) == nil {
			have[string(rec.GetKey())] = true
		}
	}
	require.NoError(t, res.Close())
	for _, a := range acks {
		if !have[dht.RecordKey(n.aID, a.id)] {
			missing = append(missing, a.id)
		}
	}
	return missing
}

const crashChannel = "crashloop"

func joinChannel(t *testing.T, n *crashNet) {
	var j json.RawMessage
	require.NoError(t, n.ac.Call(t.Context(), "chat.join", node.ChatChannelParams{Channel: crashChannel}, &j))
}

func writePost(ctx context.Context, n *crashNet, i int) (crashAck, error) {
	var id string
	err := n.ac.Call(ctx, "chat.post", node.ChatChannelParams{Channel: crashChannel, Text: fmt.Sprintf("post %d", i)}, &id)
	return crashAck{id: id}, err
}

// checkPosts counts the acknowledged posts missing from the channel's
// history as the restarted daemon (which rejoined the channel) serves it
// (all of it: a channel keeps at most 10,000 posts, HistoryCount).
func checkPosts(t *testing.T, n *crashNet, acks []crashAck) (missing []string) {
	var posts []node.ChatPost
	require.NoError(t, n.ac.Call(t.Context(), "chat.history", node.ChatChannelParams{Channel: crashChannel, Limit: 10_000}, &posts))
	have := map[string]bool{}
	for _, p := range posts {
		have[p.ID] = true
	}
	for _, a := range acks {
		if !have[a.id] {
			missing = append(missing, a.id)
		}
	}
	return missing
}

// writeDMIn sends a direct message from the survivor to a and waits for
// a's receipt: a stores a message, synced, before its receipt leaves.
func writeDMIn(ctx context.Context, n *crashNet, i int) (crashAck, error) {
	// A TTL ends the survivor's wait for a message the kill caught (the
	// client's Close waits for calls in flight).
	ttl := node.Duration(30 * time.Second)
	var res node.ChatSendResult
	err := n.bc.Call(ctx, "chat.send", node.ChatSendParams{To: n.aID.String(), Text: fmt.Sprintf("dm %d", i), Wait: true, TTL: &ttl}, &res)
	if err == nil && res.State != dm.Delivered.String() && res.State != dm.Read.String() {
		err = fmt.Errorf("message %s %s", res.ID, res.State)
	}
	return crashAck{id: res.ID}, err
}

// checkInbox counts the messages a's receipts acknowledged that are not
// in its store's inbox.
func checkInbox(t *testing.T, n *crashNet, db *store.DB, acks []crashAck) (missing []string) {
	have := map[string]bool{}
	res, err := db.Datastore(store.PrefixChat).Query(t.Context(), query.Query{Prefix: "/dm"})
	require.NoError(t, err)
	for r := range res.Next() {
		require.NoError(t, r.Error)
		var m dm.Message
		require.NoError(t, json.Unmarshal(r.Value, &m), r.Key)
		have[hex.EncodeToString(m.ID[:])] = true
	}
	require.NoError(t, res.Close())
	for _, a := range acks {
		if !have[a.id] {
			missing = append(missing, a.id)
		}
	}
	return missing
}

// writeDMOut sends a direct message from a to a peer that never comes
// online: a keeps it, for its retries, until it expires a day later.
func writeDMOut(ctx context.Context, n *crashNet, i int) (crashAck, error) {
	var res node.ChatSendResult
	err := n.ac.Call(ctx, "chat.send", node.ChatSendParams{To: n.nobody.String(), Text: fmt.Sprintf("dm %d", i)}, &res)
	return crashAck{id: res.ID}, err
}

// checkOutgoing counts the sent messages a acknowledged that are not kept
// for retrying.
func checkOutgoing(t *testing.T, n *crashNet, db *store.DB, acks []crashAck) (missing []string) {
	ds := db.Datastore(store.PrefixChat)
	for _, a := range acks {
		ok, err := ds.Has(t.Context(), store.Key("out", a.id))
		require.NoError(t, err)
		if !ok {
			missing = append(missing, a.id)
		}
	}
	return missing
}

// awayRecipient starts a third daemon, bootstrapping from the survivor,
// until the survivor knows its chat key, and stops it: messages to it go
// to its mailboxes, which a and the survivor host (the K closest peers to
// its mailbox key but itself).
func awayRecipient(t *testing.T, n *crashNet) {
	dir := initDir(t)
	cfg, err := node.DataDir(dir).LoadConfig()
	require.NoError(t, err)
	acfg, err := node.DataDir(n.a).LoadConfig()
	require.NoError(t, err)
	cfg.P2P.Bootstrap = acfg.P2P.Bootstrap
	b, err := node.MarshalConfig(cfg)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(node.DataDir(dir).Config(), b, 0o644))
	cmd, logs := fogChild(t, "run", "--path", dir)
	c := waitAPI(t, dir)
	var st node.Status
	require.NoError(t, c.Call(t.Context(), "node.status", nil, &st))
	n.away = mustDecodePeer(t, st.PeerID)
	// No notification tells the survivor's DHT has the record: ask it.
	require.Eventually(t, func() bool {
		var rec node.DHTRecord
		return n.bc.Call(t.Context(), "dht.get", node.DHTGetParams{Peer: n.away.String(), Name: chat.ChatKeyRecordName}, &rec) == nil
	}, time.Minute, 100*time.Millisecond, "the away peer's chat key reaches the survivor")
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, cmd.Wait(), "%s", logs)
}

// roomyMailboxes raises the items a mailbox host keeps from one sender
// (chat.mailbox_per_sender, 64 by default) for the mailbox kind: the
// survivor hosts its own deposits too and deposits every attempt, those
// made while a is down included, so 50 rounds would exhaust the default
// quota and the loop could acknowledge nothing more.
func roomyMailboxes(cfg *node.Config, _, _ peer.ID, _ time.Time) {
	cfg.Chat.MailboxPerSender = 1024
}

// writeMail sends a direct message from the survivor to the away peer and
// waits until it is stored in its mailboxes: acknowledged when both hosts,
// a and the survivor itself, stored it.
func writeMail(ctx context.Context, n *crashNet, i int) (crashAck, error) {
	// Expiring before the first retry (dm.Config.RetryMin, 10 s), each
	// message is deposited once: retries would fill a's quota for the
	// survivor (see crashKind.maxBurst).
	ttl := node.Duration(5 * time.Second)
	var res node.ChatSendResult
	err := n.bc.Call(ctx, "chat.send", node.ChatSendParams{To: n.away.String(), Text: fmt.Sprintf("mail %d", i), Wait: true, TTL: &ttl}, &res)
	if err == nil && res.Mailboxes < 2 {
		err = fmt.Errorf("message %s %s in %d mailboxes", res.ID, res.State, res.Mailboxes)
	}
	return crashAck{id: res.ID}, err
}

// checkMailbox counts the items a hosts: the items are sealed to the away
// peer, so the check counts them rather than naming them (each message
// is deposited once, as one item per host).
func checkMailbox(t *testing.T, n *crashNet, db *store.DB, acks []crashAck) (missing []string) {
	res, err := db.Datastore(store.PrefixChat).Query(t.Context(), query.Query{Prefix: "/mailbox", KeysOnly: true})
	require.NoError(t, err)
	have := 0
	for r := range res.Next() {
		require.NoError(t, r.Error)
		have++
	}
	require.NoError(t, res.Close())
	for i := have; i < len(acks); i++ {
		missing = append(missing, fmt.Sprintf("item %d of %d", i+1, len(acks)))
	}
	return missing
}

// dirPeer returns the peer ID of the identity in data directory dir.
func dirPeer(t *testing.T, dir string) peer.ID {
	t.Helper()
	priv, err := p2p.LoadIdentity(node.DataDir(dir).Identity())
	require.NoError(t, err)
	id, err := peer.IDFromPrivateKey(priv)
	require.NoError(t, err)
	return id
}

// crashEpoch is the lottery epoch of the claim kind: short, so that the
// victim claims seats every few seconds.
const crashEpoch = 5 * time.Second

// lotteryPair puts both daemons in a lottery network of their own, with
// 5-second epochs starting 15 s from now, whose only candidate is the
// victim (a fixed candidate list, so that the ledger's stake plays no
// part) and one seat per epoch: the victim wins every epoch (p = min(1,
// 1/1)), so it draws a claim every epoch by itself, and stores and syncs
// it (with its mix key) before it publishes it. The survivor verifies and
// keeps the victim's claims and would see it equivocate.
func lotteryPair(cfg *node.Config, self, a peer.ID, now time.Time) {
	cfg.Relay.Candidate = self == a
	cfg.Relay.NetworkID = "fog-crashloop"
	cfg.Relay.Genesis = now.Add(15 * time.Second).Truncate(time.Second).UTC().Format(time.RFC3339)
	cfg.Relay.EpochLength = node.Duration(crashEpoch)
	cfg.Relay.TargetRelays = 1
	cfg.Relay.Candidates = []string{a.String()}
}

// wonSeats matches the victim's log line for a claim it has stored and
// synced and is about to publish (lotterysvc logs it between the two).
var wonSeats = regexp.MustCompile(`msg="lottery: won seats".* epoch=(\d+)`)

// writeClaim waits for the victim's next claim: the next "won seats"
// line of its log that no other writer took, which the victim writes once
// the claim is durable and before it publishes it (the acknowledgment of
// this kind, which no RPC triggers).
func writeClaim(ctx context.Context, n *crashNet, _ int) (crashAck, error) {
	for {
		n.mu.Lock()
		logs := n.logs
		if logs != n.claimLog {
			n.claimLog, n.claimPos = logs, 0 // a restarted daemon's log
		}
		updated := logs.updated()
		text := logs.String()
		for n.claimPos < len(text) {
			line, _, full := strings.Cut(text[n.claimPos:], "\n")
			if !full {
				break // the rest of the line is still to come
			}
			n.claimPos += len(line) + 1
			m := wonSeats.FindStringSubmatch(line)
			if m == nil || n.claimed[m[1]] {
				continue
			}
			n.claimed[m[1]] = true
			n.mu.Unlock()
			return crashAck{id: m[1]}, nil
		}
		n.mu.Unlock()
		select {
		case <-ctx.Done():
			return crashAck{}, ctx.Err()
		case <-updated:
		}
	}
}

// checkClaims counts the acknowledged claims missing from the victim's
// store. The lottery deletes a claim and its mix key once its epoch is
// over and the next has begun (forward secrecy: lottery.Snapshot.OwnFrom),
// so only the claims of the epoch the survivor is in after the kill and
// the one before are looked for; older ones are counted as retired.
func checkClaims(t *testing.T, n *crashNet, db *store.DB, acks []crashAck) (missing []string) {
	var st node.RelayStatus
	require.NoError(t, n.bc.Call(t.Context(), "relay.status", nil, &st))
	now := st.Current.Epoch
	ds := db.Datastore(store.PrefixMix)
	checked := 0
	for _, a := range acks {
		e, err := strconv.ParseUint(a.id, 10, 64)
		require.NoError(t, err)
		if e+1 < now {
			continue
		}
		checked++
		// The record: 8 bytes of time, the claim, the mix private key.
		v, err := ds.Get(t.Context(), store.Key("claim", fmt.Sprintf("%020d", e)))
		if err == nil && len(v) < 8+lottery.ClaimSize {
			err = fmt.Errorf("a record of %d bytes", len(v))
		}
		if err == nil {
			var c *lottery.Claim
			if c, err = lottery.DecodeClaim(v[8 : 8+lottery.ClaimSize]); err == nil && c.Epoch != e {
				err = fmt.Errorf("the stored claim is of epoch %d", c.Epoch)
			}
		}
		if err != nil {
			t.Logf("claim of epoch %d in the store: %v", e, err)
			missing = append(missing, "epoch "+a.id)
		}
	}
	n.mu.Lock()
	n.claimsChecked += checked
	n.mu.Unlock()
	t.Logf("claims: %d acknowledged, %d of the survivor's epoch %d and the one before looked for in the store", len(acks), checked, now)
	return missing
}

// checkNoEquivocation, after a restart, counts the acknowledged claims of
// the victim's current and previous epochs that its relay.status does not
// list among its wins (it replays its stored claims into its
// directories), and any equivocation the survivor has seen (cumulative: a
// victim that lost a published claim would draw a second one for the
// epoch, with another mix key).
func checkNoEquivocation(t *testing.T, n *crashNet, acks []crashAck) (missing []string) {
	var ast, bst node.RelayStatus
	require.NoError(t, n.ac.Call(t.Context(), "relay.status", nil, &ast))
	require.NoError(t, n.bc.Call(t.Context(), "relay.status", nil, &bst))
	wins := map[uint64]bool{}
	for _, w := range ast.Wins {
		wins[w.Epoch] = true
	}
	for _, a := range acks {
		e, err := strconv.ParseUint(a.id, 10, 64)
		require.NoError(t, err)
		if e+1 >= ast.Current.Epoch && e <= ast.Current.Epoch && !wins[e] {
			t.Logf("claim of epoch %d: not among the restarted victim's wins", e)
			missing = append(missing, "epoch "+a.id)
		}
	}
	if eq := bst.Stats.Rejected["equivocation"] + bst.Stats.Ignored["equivocation"] + bst.Stats.Rejected["excluded"] + bst.Stats.Ignored["excluded"]; eq > 0 {
		missing = append(missing, fmt.Sprintf("equivocation: the survivor saw %d", eq))
	}
	return missing
}

// TestDiskFull runs the victim daemon's data directory on a 256 MiB tmpfs
// (it needs root to mount one, and skips without): with the disk filled by
// another file, every RPC that would write returns an error naming the
// cause and the daemon keeps serving; once the file is gone, writes of
// every kind succeed again without a restart; killed then, its store holds
// every acknowledged write. Stopped and remounted read-only, the daemon
// refuses to start, naming the cause; read-write again, it starts.
func TestDiskFull(t *testing.T) {
	if testing.Short() {
		t.Skip("runs fog daemons")
	}
	fs := filepath.Join(t.TempDir(), "fs")
	require.NoError(t, os.Mkdir(fs, 0o700))
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=256m", "tmpfs", fs).CombinedOutput(); err != nil {
		t.Skipf("mounting a tmpfs is not permitted here (%v: %s): the full-disk test needs root", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", fs).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", fs, err, out)
		}
	})
	n := newCrashNet(t, filepath.Join(fs, "a"), nil)
	n.startA(t)
	defer func() {
		if n.cmd.ProcessState == nil {
			_ = n.cmd.Process.Kill()
			_ = n.cmd.Wait()
		}
	}()
	joinChannel(t, n)
	kinds := crashKinds()[:5] // task, dht, channel, dm-received, dm-sent
	acks := map[string][]crashAck{}
	i := 0
	write := func(k crashKind) error {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		i++
		a, err := k.write(ctx, n, i)
		if err == nil {
			acks[k.name] = append(acks[k.name], a)
		}
		return err
	}
	// Room: every kind writes (retrying while the node connects).
	for _, k := range kinds {
		deadline := time.Now().Add(time.Minute)
		for err := write(k); err != nil; err = write(k) {
			require.True(t, time.Now().Before(deadline), "%s: %v", k.name, err)
		}
	}

	filler := filepath.Join(fs, "filler")
	f, err := os.Create(filler)
	require.NoError(t, err)
	buf := make([]byte, 1<<20)
	for {
		if _, err := f.Write(buf); err != nil {
			require.ErrorIs(t, err, syscall.ENOSPC)
			break
		}
	}
	require.NoError(t, f.Close())
	for _, k := range kinds {
		if k.name == "dm-received" {
			// a drops the frames, unacknowledged: no receipt comes, and
			// the message fails at its TTL
			ttl := node.Duration(3 * time.Second)
			var res node.ChatSendResult
			require.NoError(t, n.bc.Call(t.Context(), "chat.send", node.ChatSendParams{To: n.aID.String(), Text: "full", Wait: true, TTL: &ttl}, &res))
			require.Equal(t, dm.Failed.String(), res.State, "a message to a full disk is not delivered")
			continue
		}
		err := write(k)
		require.Error(t, err, "%s: a write on a full disk", k.name)
		msg := err.Error()
		require.True(t, strings.Contains(msg, "no room to write") || strings.Contains(msg, "no space left on device"),
			"%s: the error names the cause: %s", k.name, msg)
		t.Logf("%s on a full disk: %s", k.name, msg)
	}
	var st node.Status
	require.NoError(t, n.ac.Call(t.Context(), "node.status", nil, &st), "the daemon still serves")

	require.NoError(t, os.Remove(filler))
	for _, k := range kinds {
		require.NoError(t, write(k), "%s: room again, writes succeed without a restart", k.name)
	}

	require.NoError(t, n.cmd.Process.Signal(syscall.SIGKILL))
	_ = n.cmd.Wait()
	n.ac.Close()
	db, err := store.Open(store.DefaultConfig(node.DataDir(n.a).Store()))
	require.NoError(t, err)
	for _, k := range kinds {
		if k.checkStore != nil {
			require.Empty(t, k.checkStore(t, n, db, acks[k.name]), k.name)
		}
	}
	require.NoError(t, db.Close())
	n.startA(t)
	for _, k := range kinds {
		if k.checkRPC != nil {
			require.Empty(t, k.checkRPC(t, n, acks[k.name]), k.name)
		}
	}
	n.stopA(t)

	// A read-only data directory: the daemon refuses to start.
	out, err := exec.Command("mount", "-o", "remount,ro", fs).CombinedOutput()
	require.NoError(t, err, "%s", out)
	ro := exec.Command(os.Args[0], "run", "--path", n.a)
	ro.Env = append(os.Environ(), "FOG_TEST_MAIN=1")
	out, err = ro.CombinedOutput()
	require.Error(t, err, "a daemon on a read-only data directory: %s", out)
	require.Contains(t, string(out), "read-only file system")
	t.Logf("read-only: %s", lastLine(string(out)))
	out, err = exec.Command("mount", "-o", "remount,rw", fs).CombinedOutput()
	require.NoError(t, err, "%s", out)
	n.startA(t)
	n.stopA(t)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
