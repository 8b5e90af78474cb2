# Test images: built offline from Debian packages by fixtures/images/build-images,
# cached outside the repo under a key of everything that goes into them, and
# rebuilt only when that cache entry is absent.

IMAGE_CACHE_ROOT=${CRISP_IMAGE_CACHE:-/var/cache/crisp/images}

images_cache_key() {
  {
    cat "$repo/fixtures/images/build-images" "$repo"/fixtures/images/*/*
    dpkg-query -W -f='${Package} ${Version}\n' busybox-static procps util-linux \
      redis-server redis-tools libc6 libc6-dev cpp-12 gcc-12 g++-12 tar gzip jq
  } | sha256sum | cut -c1-16
}

images_up() {
  local key dir
  key=$(images_cache_key)
  dir="$IMAGE_CACHE_ROOT/$key"
  if [ -f "$dir/images.list" ]; then
    say "images: cached in $dir"
  else
    say "images: building into $dir"
    mkdir -p "$IMAGE_CACHE_ROOT"
    rm -rf "$dir.tmp"
    "$repo/fixtures/images/build-images" "$dir.tmp" > "$CRISP_ENV_DIR/images.log" 2>&1 ||
      fail images "$CRISP_ENV_DIR/images.log" "build-images failed"
    # The list names the layouts by their build path; fix it to the final one.
    sed -i "s#^$dir.tmp/#$dir/#" "$dir.tmp/images.list"
    rm -rf "$dir"
    mv "$dir.tmp" "$dir"
  fi
  set_var CRISP_IMAGES_DIR "$dir"
}

images_status() {
  echo "images: cache $IMAGE_CACHE_ROOT/$(images_cache_key) $( [ -f "$IMAGE_CACHE_ROOT/$(images_cache_key)/images.list" ] && echo present || echo absent)"
}

UP_STEPS+=(images_up)
DOWN_STEPS+=(:)
STATUS_STEPS+=(images_status)
