#!/usr/bin/env bash
# hostile_images.sh OUTDIR REGISTRY: builds two malicious images and pushes
# them to REGISTRY (the env's local one) as crisp-test/evil-dotdot:1 and
# crisp-test/evil-symlink:1. Each tries to write TARGET (printed) outside the
# layer directory: one with a `../` entry, one through a symlink to /tmp.
set -euo pipefail
out=${1:?usage: hostile_images.sh OUTDIR REGISTRY}
registry=${2:?usage: hostile_images.sh OUTDIR REGISTRY}
mkdir -p "$out"
target="crisp-evil-$$"

# image NAME TARFILE: an OCI layout with one gzip layer, pushed to the registry.
image() {
  local name=$1 tarfile=$2 layout="$out/$1"
  mkdir -p "$layout/blobs/sha256"
  local diff_id digest size config config_digest config_size manifest manifest_digest manifest_size
  diff_id=sha256:$(sha256sum "$tarfile" | cut -d' ' -f1)
  gzip -n -c "$tarfile" > "$out/layer.gz"
  digest=$(sha256sum "$out/layer.gz" | cut -d' ' -f1)
  size=$(stat -c %s "$out/layer.gz")
  mv "$out/layer.gz" "$layout/blobs/sha256/$digest"
  config=$(jq -cn --arg d "$diff_id" '{architecture:"amd64",os:"linux",config:{Cmd:["sh"]},rootfs:{type:"layers",diff_ids:[$d]}}')
  printf %s "$config" > "$out/config.json"
  config_digest=$(sha256sum "$out/config.json" | cut -d' ' -f1)
  config_size=$(stat -c %s "$out/config.json")
  mv "$out/config.json" "$layout/blobs/sha256/$config_digest"
  manifest=$(jq -cn --arg cd "sha256:$config_digest" --argjson cs "$config_size" --arg ld "sha256:$digest" --argjson ls "$size" \
    '{schemaVersion:2,mediaType:"application/vnd.oci.image.manifest.v1+json",
      config:{mediaType:"application/vnd.oci.image.config.v1+json",digest:$cd,size:$cs},
      layers:[{mediaType:"application/vnd.oci.image.layer.v1.tar+gzip",digest:$ld,size:$ls}]}')
  printf %s "$manifest" > "$out/manifest.json"
  manifest_digest=$(sha256sum "$out/manifest.json" | cut -d' ' -f1)
  manifest_size=$(stat -c %s "$out/manifest.json")
  mv "$out/manifest.json" "$layout/blobs/sha256/$manifest_digest"
  jq -cn --arg md "sha256:$manifest_digest" --argjson ms "$manifest_size" \
    '{schemaVersion:2,manifests:[{mediaType:"application/vnd.oci.image.manifest.v1+json",digest:$md,size:$ms,
      annotations:{"org.opencontainers.image.ref.name":"1"}}]}' > "$layout/index.json"
  echo '{"imageLayoutVersion":"1.0.0"}' > "$layout/oci-layout"
  skopeo copy --quiet --dest-tls-verify=false "oci:$layout:1" "docker://$registry/crisp-test/$name:1" >&2
}

work="$out/work"
mkdir -p "$work/files"
echo "written outside the layer" > "$work/files/payload"

# ../ entries: a harmless file, then one that climbs four levels up into /tmp.
tar -C "$work/files" -cf "$work/dotdot.tar" payload
tar -P -C "$work/files" --transform "s,^payload\$,../../../../../../../../tmp/$target-dotdot," -rf "$work/dotdot.tar" payload
image evil-dotdot "$work/dotdot.tar"

# A symlink to /tmp, then a file written through it.
ln -s /tmp "$work/esc"
tar -C "$work" -cf "$work/symlink.tar" esc
tar -C "$work/files" --transform "s,^payload\$,esc/$target-symlink," -rf "$work/symlink.tar" payload
image evil-symlink "$work/symlink.tar"

echo "$target"
