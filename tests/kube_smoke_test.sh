#!/usr/bin/env bash
# deploy/kubernetes/smoke, run against the API test server (jizhan-kubesim, a cluster with
# a GPU node) and a real `jizhan server`: the operator's script itself is tested, every
# step of it (register, CPU job and log, GPU job and log, cancel and nothing left).
# Usage: tests/kube_smoke_test.sh JIZHAN JIZHAN_KUBESIM SOURCE_DIR
set -euo pipefail
jizhan=$1 kubesim=$2 src=$3
dir=$(mktemp -d)
chmod 711 "$dir"
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$dir"' EXIT
# HTTPS, as a real API server (kubectl sends no token over plain HTTP).
(cd "$dir" &&
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 1 -subj /CN=smoke-ca 2>/dev/null &&
  openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=127.0.0.1 2>/dev/null &&
  printf 'subjectAltName=IP:127.0.0.1' > san.ext &&
  openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 1 \
    -extfile san.ext 2>/dev/null)
"$kubesim" --listen 127.0.0.1:0 --port-file "$dir/kubesim.port" --token smoke=smoke-token \
  --tls-cert "$dir/server.crt" --tls-key "$dir/server.key" \
  --node gpu-node:8:16384:2:A100 > "$dir/kubesim.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do [ -s "$dir/kubesim.port" ] && break; sleep 0.1; done
port=$(cat "$dir/kubesim.port")
cat > "$dir/kubeconfig" <<YAML
apiVersion: v1
kind: Config
current-context: sim
clusters:
- name: sim
  cluster:
    server: https://127.0.0.1:$port
    certificate-authority-data: $(base64 -w0 < "$dir/ca.crt")
users:
- name: smoke
  user:
    token: smoke-token
contexts:
- name: sim
  context: {cluster: sim, user: smoke}
YAML
"$jizhan" server --listen 127.0.0.1:0 --data-dir "$dir/data" --set auth.password_hash_cost=minimum \
  --set jobs.local=false --set monitoring.agent=false --set clusters.sync_ms=200 \
  --set jobs.tick_ms=50 > "$dir/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 300); do
  grep -q "listening on" "$dir/server.log" 2>/dev/null && break
  sleep 0.1
done
url=$(grep -o 'http://127.0.0.1:[0-9]*' "$dir/server.log" | head -1)
[ -n "$url" ] || { echo "the server did not start:"; cat "$dir/server.log"; exit 1; }
if ! "$src/deploy/kubernetes/smoke" --server "$url" --token "$(cat "$dir/data/admin-token")" \
    --kubeconfig "$dir/kubeconfig" --cluster sim --timeout 60 \
    --gpu-command 'echo GPU $NVIDIA_VISIBLE_DEVICES'; then
  echo "--- server log"; tail -30 "$dir/server.log"
  echo "--- kubesim log"; tail -30 "$dir/kubesim.log"
  exit 1
fi
