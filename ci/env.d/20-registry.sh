# The local OCI registry: Debian's docker-registry on 127.0.0.1, storage under
# $CRISP_ENV_DIR/registry, fed with the test images under the names users
# pull (docker.io/library/redis:alpine, registry.k8s.io/pause:3.9, ...).
# containerd reaches it through registry mirrors; the repository path is the
# image name without its registry host.

REG_DIR="$CRISP_ENV_DIR/registry"
REG_PID="$REG_DIR/registry.pid"
REG_LOG="$REG_DIR/registry.log"

registry_answers() {
  curl -sf "http://$CRISP_REGISTRY/v2/" >/dev/null
}

registry_up() {
  mkdir -p "$REG_DIR/data"
  if pid_alive "$REG_PID" && [ -f "$REG_DIR/address" ]; then
    set_var CRISP_REGISTRY "$(cat "$REG_DIR/address")"
  else
    set_var CRISP_REGISTRY "127.0.0.1:${CRISP_REGISTRY_PORT:-$(free_port 5000)}"
    echo "$CRISP_REGISTRY" > "$REG_DIR/address"
    cat > "$REG_DIR/config.yml" <<YAML
version: 0.1
log:
  level: info
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $REG_DIR/data
  delete:
    enabled: true
http:
  addr: $CRISP_REGISTRY
YAML
  fi
  start_daemon registry "$REG_PID" "$REG_LOG" docker-registry serve "$REG_DIR/config.yml"
  wait_until 30 registry "$REG_PID" "$REG_LOG" registry_answers
  registry_push
}

# Pushes every name of images.list (skipping those already there with the
# same manifest: a rebuilt image is pushed again) and writes digests.json:
# {"docker.io/library/redis:alpine": "sha256:...", ...}.
registry_push() {
  local layout ref name path digest_file="$REG_DIR/push.digest" pushed=0 built
  local digests="{}"
  # Two names may share a repository path only if they are the same image.
  local clash
  clash=$(awk '{n=$3; sub(/^[^\/]+\//, "", n); print n, $1}' "$CRISP_IMAGES_DIR/images.list" |
          sort -u | awk '{print $1}' | uniq -d)
  [ -z "$clash" ] || die "registry: different images share the path(s): $clash"
  while read -r layout ref name; do
    path=${name#*/}
    built=$(skopeo inspect --raw "oci:$layout:$ref" 2>>"$REG_LOG") ||
      fail registry "$REG_LOG" "reading the manifest of $name in $layout failed"
    built="sha256:$(printf '%s' "$built" | sha256sum | cut -d' ' -f1)"
    if [ ! -f "$REG_DIR/pushed/$path" ] || [ "$(cat "$REG_DIR/pushed/$path")" != "$built" ]; then
      skopeo copy --quiet --dest-tls-verify=false --digestfile "$digest_file" \
        "oci:$layout:$ref" "docker://$CRISP_REGISTRY/$path" >>"$REG_LOG" 2>&1 ||
        fail registry "$REG_LOG" "pushing $name failed"
      mkdir -p "$(dirname "$REG_DIR/pushed/$path")"
      cp "$digest_file" "$REG_DIR/pushed/$path"
      pushed=$((pushed + 1))
    fi
    digests=$(jq -c --arg n "$name" --arg d "$(cat "$REG_DIR/pushed/$path")" '.[$n] = $d' <<<"$digests")
  done < "$CRISP_IMAGES_DIR/images.list"
  jq -S . <<<"$digests" > "$REG_DIR/digests.json"
  say "registry: $pushed image name(s) pushed to $CRISP_REGISTRY"
  set_var CRISP_IMAGE_DIGESTS "$REG_DIR/digests.json"
  registry_alter_layer docker.io/crispproject/altered-layer:1
}

# registry_alter_layer NAME: changes bytes in the middle of the image's last
# layer (its own: the others are shared) where the registry stores it, so
# the registry serves content that does not hash to the layer's digest, as a
# broken or malicious registry would (robustness.pull-layer-digest-mismatch).
# The size stays. Done once: an altered layer no longer hashes to its name.
registry_alter_layer() {
  local name=$1 layout ref manifest digest data
  read -r layout ref _ < <(awk -v n="$name" '$3 == n' "$CRISP_IMAGES_DIR/images.list") || true
  [ -n "${layout:-}" ] || die "registry: $name is not among the test images"
  manifest=$(skopeo inspect --raw "oci:$layout:$ref" 2>>"$REG_LOG") ||
    fail registry "$REG_LOG" "reading the manifest of $name in $layout failed"
  digest=$(jq -r '.layers[-1].digest' <<<"$manifest")
  data="$REG_DIR/data/docker/registry/v2/blobs/sha256/${digest:7:2}/${digest#sha256:}/data"
  [ -f "$data" ] || die "registry: the layer $digest of $name is not in the registry's storage ($data)"
  if [ "sha256:$(sha256sum < "$data" | cut -d' ' -f1)" = "$digest" ]; then
    local size
    size=$(stat -c %s "$data")
    [ "$size" -gt 64 ] || die "registry: the layer of $name is too small to alter ($size bytes)"
    printf 'crisp: not the layer you asked for' | dd of="$data" bs=1 seek=$((size / 2 - 17)) conv=notrunc status=none
    say "registry: the layer of $name now differs from its digest $digest"
  fi
}

registry_down() {
  stop_daemon registry "$REG_PID"
}

registry_status() {
  if pid_alive "$REG_PID"; then
    echo "registry: running (pid $(cat "$REG_PID")), http://$(cat "$REG_DIR/address")"
  else
    echo "registry: not running"
  fi
}

UP_STEPS+=(registry_up)
DOWN_STEPS+=(registry_down)
STATUS_STEPS+=(registry_status)
