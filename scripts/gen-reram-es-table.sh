#!/bin/sh
# gen-reram-es-table.sh: writes models/reram-es-table.csv, the noise-free
# pulse response of aihwkit's ReRamESPresetDevice (an ExpStepDevice fit to
# the ReRAM of Gong et al., Nat. Commun. 9, 2102 (2018), as aihwkit's
# src/aihwkit/simulator/presets/devices.py says), mapped onto a 1 uS .. 100 uS
# window.  Not measured data: a published fitted model evaluated pulse by
# pulse (docs/devices.md, "Presets").
#
#   sh scripts/gen-reram-es-table.sh > models/reram-es-table.csv
#
# The step is aihwkit's update_once (src/rpucuda/rpu_expstep_device.cpp)
# for the mean device (no device-to-device or cycle-to-cycle noise), in
# double precision (aihwkit computes in float):
#   z      = 2 w / (w_max - w_min) * a + b
#   up:    w += max(1 - A_up   exp( gamma_up   z), 0) * dw_min (1 + up_bias)
#   down:  w -= max(1 - A_down exp(-gamma_down z), 0) * dw_min (1 + down_bias)
#   w      = clip(w, w_min, w_max)
# with up_down = 0.259359 > 0, so up_bias = 0 and down_bias = -up_down
# (rpu_pulsed_device.cpp, populate), and the preset's dw_min = 0.00135,
# w in [-1, 1], a = b = -0.5, gamma_up = gamma_down = 5, A_up = -1.18445,
# A_down = -0.081404.  G = g_min + (w - w_min) / (w_max - w_min) (g_max - g_min).
# Rows k = 0..N with N the pulses the slower direction needs to reach its
# bound; the faster direction then stays at its bound (rows repeat it).
set -eu
awk 'BEGIN {
    dw = 0.00135; ud = 0.259359; a = -0.5; b = -0.5
    gu = 5; gd = 5; Au = -1.18445; Ad = -0.081404
    wmin = -1; wmax = 1; gmin = 1e-6; gmax = 1e-4
    su = dw; sd = dw * (1 - ud)
    wu = wmin; wd = wmax; n = 0
    while (1) {
        U[n] = wu; D[n] = wd
        if (wu >= wmax && wd <= wmin) break
        z = 2 * wu / (wmax - wmin) * a + b
        y = 1 - Au * exp(gu * z); if (y < 0) y = 0
        wu += y * su; if (wu > wmax) wu = wmax
        z = 2 * wd / (wmax - wmin) * a + b
        y = 1 - Ad * exp(-gd * z); if (y < 0) y = 0
        wd -= y * sd; if (wd < wmin) wd = wmin
        n++
    }
    print "pulse,G_up_S,G_down_S"
    for (k = 0; k <= n; k++) {
        gU = (U[k] >= wmax) ? gmax : gmin + (U[k] - wmin) / (wmax - wmin) * (gmax - gmin)
        gD = (D[k] <= wmin) ? gmin : gmin + (D[k] - wmin) / (wmax - wmin) * (gmax - gmin)
        printf "%d,%.10g,%.10g\n", k, gU, gD
    }
}'
