#!/bin/sh
# Entrypoint of fog's container image and Kubernetes pods: on first start it
# creates the node in $FOG_PATH (identity key, API token, config.toml with
# the API on all interfaces, so that the dashboard and /metrics can be
# reached through the container's port), then runs it. Later starts keep
# what is there.
#   FOG_BOOTSTRAP  bootstrap multiaddrs (ending in /p2p/<peer id>), separated
#                  by spaces, written into config.toml at first start
#   FOG_SEED_KEY   an identity key file to use instead of a new one at first
#                  start (a fleet's well-known bootstrap node)
#   FOG_SEED_HOST  if set, only the host (pod) of this name uses FOG_SEED_KEY
set -eu
: "${FOG_PATH:=/data}"
export FOG_PATH
if [ ! -f "$FOG_PATH/config.toml" ]; then
	set -- --api 0.0.0.0:5151 --listen /ip4/0.0.0.0/tcp/4001 --listen /ip4/0.0.0.0/udp/4001/quic-v1
	for b in ${FOG_BOOTSTRAP:-}; do
		set -- "$@" --bootstrap "$b"
	done
	fog init "$@"
	host=${HOSTNAME:-$(hostname)}
	if [ -n "${FOG_SEED_KEY:-}" ] && [ -f "$FOG_SEED_KEY" ] && { [ -z "${FOG_SEED_HOST:-}" ] || [ "$FOG_SEED_HOST" = "$host" ]; }; then
		cp "$FOG_SEED_KEY" "$FOG_PATH/identity.key"
		chmod 0600 "$FOG_PATH/identity.key"
	fi
fi
exec fog run
