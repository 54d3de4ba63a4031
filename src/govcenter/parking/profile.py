"""The demand profile of Beijing road parking that both generators draw from.

``demo_scale`` (the ORM/PostgreSQL scale demo) and ``lake.synthetic`` (a year of facts
written straight into the lake) must generate the same city, or the bench would compare two
different workloads; so the profile lives here once. Plain numbers, no Django.
"""

from __future__ import annotations

import numpy as np

CLASS_TURNOVER = {1: 1.4, 2: 1.0, 3: 0.7}  # relative stays per space per day, by area class
# Relative arrivals per Beijing hour of the day (0–23).
HOURLY = np.array(
    [0.3, 0.2, 0.1, 0.1, 0.1, 0.2, 0.6, 1.5, 2.5, 2.5, 2.2, 2.0,
     1.8, 1.8, 1.9, 1.9, 1.9, 2.0, 2.2, 2.2, 1.6, 1.2, 0.8, 0.5]
)  # fmt: skip
DURATION_MEDIAN_MIN, DURATION_SIGMA, DURATION_MAX_MIN = 45.0, 0.85, 600  # log-normal stays
NIGHT_SHARE = 0.12  # overnight stays: arrive 18:00–23:00, stay 8–13 h
LARGE_SHARE = 0.03  # large vehicles
BDA_CENTRE, BDA_RADIUS_KM, BDA_SHARE = (116.5070, 39.7950), 4.0, 0.02  # 亦庄 (BDA), GCJ-02
RADIAL_KM = 9.0  # mean distance of a road from the centre (exponential), before the minimum per unit
SPACES_PER_ROAD = 90
SEGMENT_MAX = 30
SPACE_STEP_M, SIDE_OFFSET_M, SEGMENT_GAP_M = 6.0, 4.0, 20.0
