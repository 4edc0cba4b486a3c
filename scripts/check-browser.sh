#!/usr/bin/env bash
# check-browser.sh CLI: the opt-in browser test of `eqspice report`
# (make check-browser).  Installs Debian's chromium if missing, trains a
# small run, writes its report, opens it in headless Chromium and checks
# that the page logs no console error and that its screenshot shows the
# plots (many non-white, coloured pixels).  Leaves nothing behind.
set -euo pipefail
cli=${1:-build/eqspice}
if ! command -v chromium >/dev/null 2>&1; then
  EQS_EXTRA_PKGS="chromium" bash "$(dirname "$0")/install-deps.sh"
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$cli" train netlists/demo-experiment.xml -o "$tmp/run" > /dev/null 2>&1
"$cli" report "$tmp/run" -o "$tmp/report.html"
# --enable-logging=stderr prints the page's console messages as
# "...:CONSOLE(line)] message"; errors carry "Uncaught" or level ERROR.
chromium --headless=new --no-sandbox --disable-gpu --hide-scrollbars \
  --user-data-dir="$tmp/profile" --window-size=1400,3000 \
  --enable-logging=stderr --v=0 --screenshot="$tmp/shot.png" \
  "file://$tmp/report.html" > "$tmp/out.log" 2> "$tmp/err.log" || {
  cat "$tmp/err.log" >&2
  echo "check-browser: chromium failed" >&2
  exit 1
}
if grep -E "CONSOLE|Uncaught|Failed to load|net::ERR" "$tmp/err.log" | grep -v "^$" > "$tmp/console.log"; then
  cat "$tmp/console.log" >&2
  echo "check-browser: the report logged console errors" >&2
  exit 1
fi
[ -s "$tmp/shot.png" ] || { echo "check-browser: no screenshot" >&2; exit 1; }
# count coloured pixels of the screenshot with cairo through a tiny C
# program (no Python imaging on a fresh machine)
cat > "$tmp/px.c" <<'C'
#include <cairo.h>
#include <stdio.h>
#include <stdint.h>
int main(int argc, char **argv)
{
    cairo_surface_t *s = cairo_image_surface_create_from_png(argv[1]);
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) return 2;
    int w = cairo_image_surface_get_width(s), h = cairo_image_surface_get_height(s);
    int st = cairo_image_surface_get_stride(s);
    unsigned char *d = cairo_image_surface_get_data(s);
    long blue = 0, other = 0;
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            uint32_t p = *(uint32_t *)(void *)(d + (size_t)y * st + 4 * (size_t)x);
            int r = (p >> 16) & 255, g = (p >> 8) & 255, b = p & 255;
            if (b > r + 60 && b > g + 30) blue++;      /* the curves' #1f77b4 and viridis */
            else if (r < 250 || g < 250 || b < 250) other++;
        }
    printf("%d %d %ld %ld\n", w, h, blue, other);
    (void)argc;
    return 0;
}
C
cc -o "$tmp/px" "$tmp/px.c" $(pkg-config --cflags --libs cairo)
read -r w h blue other < <("$tmp/px" "$tmp/shot.png")
echo "check-browser: screenshot ${w}x${h}, $blue blue-ish pixels, $other other non-white"
if [ "$blue" -lt 2000 ]; then
  echo "check-browser: the screenshot shows no plots" >&2
  exit 1
fi
echo "check-browser: ok (no console errors; plots visible)"
