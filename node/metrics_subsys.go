package node

import (
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
)

// registerSubsystems adds the subsystems' metrics and the tasks' duration
// histogram, unless the metrics are off.
func (n *Node) registerSubsystems() error {
	if n.reg == nil {
		return nil
	}
	n.taskTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "fog", Name: "task_duration_seconds",
		Help:    "Time from a task's submission on this node to its end, by how it ended (done, failed, cancelled).",
		Buckets: prometheus.ExponentialBuckets(0.01, 2.5, 14), // 10 ms to about 4 hours
	}, []string{"outcome"})
	return n.register(newSubsystemCollector(n), n.taskTime)
}

// subsystemCollector reports the subsystems' own counters at each scrape
// (tasks, the capacity directory, the DHT, the relay lottery, the mix, the
// store, the data directory's disk, the event stream), read from their Stats and
// Status: nothing is counted twice and nothing costs between scrapes.
type subsystemCollector struct {
	n *Node

	tasks, taskAttempts, taskAttemptsFailed, inFlight, waiting *prometheus.Desc
	providerAccepted, providerRefused, queue                   *prometheus.Desc
	offers                                                     *prometheus.Desc
	relayEpoch, relayWins, relayClaims, relayRejected          *prometheus.Desc
	mixPackets, mixMessages                                    *prometheus.Desc
	storeBytes, diskFree, diskTotal                            *prometheus.Desc
	eventsDropped, eventsSubscribers                           *prometheus.Desc
	gossipMessages, gossipRejected, dhtPeers                   *prometheus.Desc
	dhtLookups, dhtLatency, relayWonTotal, relayClaimFailures  *prometheus.Desc
	ledgerIgnored, ledgerRejected, ledgerRefused               *prometheus.Desc
}

func newSubsystemCollector(n *Node) *subsystemCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("fog_"+name, help, labels, nil)
	}
	return &subsystemCollector{
		n:                  n,
		tasks:              d("tasks_total", "Tasks submitted on this node, and finished by outcome (done, failed, cancelled).", "outcome"),
		taskAttempts:       d("task_attempts_total", "Attempts (runs on a provider) of this node's tasks."),
		taskAttemptsFailed: d("task_attempts_failed_total", "Attempts of this node's tasks that failed."),
		inFlight:           d("tasks_in_flight", "This node's tasks being placed or run now."),
		waiting:            d("tasks_waiting", "This node's tasks waiting for a provider with room."),
		providerAccepted:   d("provider_tasks_accepted_total", "Tasks this node accepted to run for peers."),
		providerRefused:    d("provider_tasks_refused_total", "Tasks this node refused to run for peers, by reason.", "reason"),
		queue:              d("queue_tasks", "Jobs in this node's execution queue, by state (queued, running).", "state"),
		offers:             d("directory_offers", "Capacity offers in this node's directory."),
		relayEpoch:         d("relay_epoch", "The relay lottery's current epoch."),
		relayWins:          d("relay_wins", "Kept epochs in which this node won relay seats."),
		relayClaims:        d("relay_claims_accepted_total", "Relay claims the lottery accepted."),
		relayWonTotal:      d("relay_wins_total", "Epochs in which this node drew a winning ticket and claimed relay seats."),
		relayClaimFailures: d("relay_claim_failures_total", "Epochs in which this node could not draw or claim its ticket."),
		relayRejected:      d("relay_claims_rejected_total", "Relay lottery messages rejected, by reason.", "reason"),
		mixPackets:         d("mix_packets_total", "Mix packets, by what happened (in, relayed, out).", "kind"),
		mixMessages:        d("mix_messages_total", "Mix messages of this node, by outcome (sent, acked, failed, delivered).", "outcome"),
		storeBytes:         d("store_bytes", "Size of the Badger store on disk, by part (lsm, vlog).", "part"),
		diskFree:           d("disk_free_bytes", "Bytes free to the node on the data directory's file system."),
		diskTotal:          d("disk_total_bytes", "Size of the data directory's file system."),
		eventsDropped:      d("events_dropped_total", "Events the event stream's clients lost for reading too slowly."),
		eventsSubscribers:  d("events_subscribers", "Open event streams (dashboards, fog events)."),
		gossipMessages:     d("gossip_messages_total", "Gossip messages, by what pubsub did with them (validated, delivered, duplicate, undeliverable, throttled).", "outcome"),
		gossipRejected:     d("gossip_rejected_total", "Gossip messages refused, by pubsub's reason.", "reason"),
		dhtPeers:           d("dht_peers", "Peers in the DHT's routing table, by DHT (wan, lan).", "dht"),
		dhtLookups:         d("dht_lookups_total", "DHT lookups and publications of this node, by kind (find_peer, closest_peers, find_providers, provide, get_record, put_record) and outcome (ok, not_found, cancelled, error).", "kind", "outcome"),
		dhtLatency:         d("dht_lookup_duration_seconds", "Time the DHT's lookups and publications took, by kind.", "kind"),
		ledgerIgnored:      d("ledger_ignored_total", "Ledger blocks and votes dropped without penalty, by reason: the ledger's validators' (future, settled, backdated, no_weight) and gossip's own rules' (gossip_time, gossip_seq, gossip_rate).", "reason"),
		ledgerRejected:     d("ledger_rejected_total", "Ledger blocks and votes the validators refused, their senders penalised."),
		ledgerRefused:      d("ledger_refused_total", "Ledger blocks and votes let through that the ledger's core did not take, by its answer (gap, busy, duplicate, invalid, other).", "answer"),
	}
}

func (c *subsystemCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.tasks, c.taskAttempts, c.taskAttemptsFailed, c.inFlight, c.waiting,
		c.providerAccepted, c.providerRefused, c.queue, c.offers,
		c.relayEpoch, c.relayWins, c.relayClaims, c.relayRejected, c.mixPackets, c.mixMessages,
		c.storeBytes, c.diskFree, c.diskTotal, c.eventsDropped, c.eventsSubscribers,
		c.gossipMessages, c.gossipRejected, c.dhtPeers,
		c.dhtLookups, c.dhtLatency, c.relayWonTotal, c.relayClaimFailures,
		c.ledgerIgnored, c.ledgerRejected, c.ledgerRefused,
	} {
		ch <- d
	}
}

func (c *subsystemCollector) Collect(ch chan<- prometheus.Metric) {
	n := c.n
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	if n.compute != nil {
		st := n.compute.Stats()
		counter(c.tasks, st.Submitted, "submitted")
		counter(c.tasks, st.Done, "done")
		counter(c.tasks, st.Failed, "failed")
		counter(c.tasks, st.Cancelled, "cancelled")
		counter(c.taskAttempts, st.Attempts)
		counter(c.taskAttemptsFailed, st.Lost)
		gauge(c.inFlight, float64(st.InFlight))
		gauge(c.waiting, float64(st.Waiting))
		counter(c.providerAccepted, st.Accepted)
		for reason, v := range st.Refused {
			counter(c.providerRefused, v, reason)
		}
		gauge(c.queue, float64(st.Queued), "queued")
		gauge(c.queue, float64(st.Running), "running")
	}
	if n.gossip != nil {
		gauge(c.offers, float64(n.gossip.Directory().Len()))
		st := n.gossip.Stats()
		counter(c.gossipMessages, st.Validated, "validated")
		counter(c.gossipMessages, st.Delivered, "delivered")
		counter(c.gossipMessages, st.Duplicates, "duplicate")
		counter(c.gossipMessages, st.Undeliverable, "undeliverable")
		counter(c.gossipMessages, st.Throttled, "throttled")
		for reason, v := range st.Rejected {
			counter(c.gossipRejected, v, reason)
		}
	}
	if n.dht != nil {
		st := n.dht.Status()
		gauge(c.dhtPeers, float64(st.WAN.Peers), "wan")
		gauge(c.dhtPeers, float64(st.LAN.Peers), "lan")
		for kind, l := range n.dht.Stats().Lookups {
			for outcome, v := range l.Outcomes {
				counter(c.dhtLookups, v, kind, outcome)
			}
			ch <- prometheus.MustNewConstHistogram(c.dhtLatency, l.Count, l.Seconds, l.Buckets, kind)
		}
	}
	if n.ledger != nil {
		st := n.ledger.Stats()
		for reason, v := range st.IgnoredBy {
			counter(c.ledgerIgnored, v, string(reason))
		}
		for rule, v := range st.GossipIgnored {
			counter(c.ledgerIgnored, v, "gossip_"+string(rule))
		}
		counter(c.ledgerRejected, st.Rejected)
		for answer, v := range st.Refused {
			counter(c.ledgerRefused, v, string(answer))
		}
	}
	if n.lottery != nil {
		st := n.lottery.Status()
		gauge(c.relayEpoch, float64(st.Current.Epoch))
		gauge(c.relayWins, float64(len(st.Wins)))
		counter(c.relayClaims, st.Stats.ClaimsAccepted)
		counter(c.relayWonTotal, st.Stats.Wins)
		counter(c.relayClaimFailures, st.Stats.ClaimFailures)
		for reason, v := range st.Stats.Rejected {
			counter(c.relayRejected, v, reason)
		}
	}
	if n.mix != nil {
		st := n.mix.Status()
		counter(c.mixPackets, st.PacketsIn, "in")
		counter(c.mixPackets, st.Relayed, "relayed")
		counter(c.mixPackets, st.PacketsOut, "out")
		counter(c.mixMessages, st.Sent, "sent")
		counter(c.mixMessages, st.Acked, "acked")
		counter(c.mixMessages, st.Failed, "failed")
		counter(c.mixMessages, st.Delivered, "delivered")
	}
	if n.store != nil {
		lsm, vlog := n.store.Badger().Size()
		gauge(c.storeBytes, float64(lsm), "lsm")
		gauge(c.storeBytes, float64(vlog), "vlog")
	}
	if n.dir != "" {
		var st syscall.Statfs_t
		if syscall.Statfs(string(n.dir), &st) == nil {
			gauge(c.diskFree, float64(st.Bavail*uint64(st.Bsize)))
			gauge(c.diskTotal, float64(st.Blocks*uint64(st.Bsize)))
		}
	}
	if n.events != nil {
		counter(c.eventsDropped, n.events.Dropped())
		gauge(c.eventsSubscribers, float64(n.events.Subscribers()))
	}
}
