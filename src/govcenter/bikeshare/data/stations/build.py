"""Build ``rail_stations.geojson``: a 150 m circle fence around each seed metro station.

Run from the repository root: ``.venv/bin/python -m govcenter.bikeshare.data.stations.build``
(or this file directly). The output is deterministic, so re-running it changes nothing
unless the table below changes.

The positions are hand-entered approximations in GCJ-02 (the datum of web maps and of
the district boundaries), good to some tens of metres — a demo seed, not survey data.
``district`` is the GB/T 2260 code of the district the station lies in; the tests check
it against ``govcenter.core.districts``.
"""

from __future__ import annotations

import json
from pathlib import Path

from govcenter.bikeshare.geo import circle_polygon

OUTPUT = Path(__file__).resolve().parent / "rail_stations.geojson"
RADIUS_M = 150.0
SEGMENTS = 64
DECIMALS = 7  # about 1 cm

# (station, English name, lon, lat (GCJ-02, approximate), district code)
STATIONS: tuple[tuple[str, str, float, float, str], ...] = (
    ("西直门", "Xizhimen", 116.3551, 39.9406, "110102"),
    ("西单", "Xidan", 116.3742, 39.9075, "110102"),
    ("天安门东", "Tian'anmen East", 116.4016, 39.9079, "110101"),
    ("北京站", "Beijing Railway Station", 116.4270, 39.9025, "110101"),
    ("东直门", "Dongzhimen", 116.4344, 39.9413, "110101"),
    ("雍和宫", "Yonghegong Lama Temple", 116.4173, 39.9490, "110101"),
    ("国贸", "Guomao", 116.4613, 39.9087, "110105"),
    ("望京", "Wangjing", 116.4699, 39.9985, "110105"),
    ("奥林匹克公园", "Olympic Green", 116.3926, 40.0025, "110105"),
    ("北京西站", "Beijing West Railway Station", 116.3220, 39.8950, "110106"),
    ("北京南站", "Beijing South Railway Station", 116.3786, 39.8650, "110106"),
    ("宋家庄", "Songjiazhuang", 116.4282, 39.8460, "110106"),
    ("苹果园", "Pingguoyuan", 116.1780, 39.9264, "110107"),
    ("五道口", "Wudaokou", 116.3377, 39.9926, "110108"),
    ("中关村", "Zhongguancun", 116.3165, 39.9838, "110108"),
    ("军事博物馆", "Military Museum", 116.3218, 39.9073, "110108"),
    ("通州北苑", "Tongzhou Beiyuan", 116.6360, 39.9040, "110112"),
    ("顺义", "Shunyi", 116.6580, 40.1300, "110113"),
    ("天通苑", "Tiantongyuan", 116.4128, 40.0747, "110114"),
    ("回龙观", "Huilongguan", 116.3364, 40.0707, "110114"),
    ("天宫院", "Tiangongyuan", 116.3202, 39.6690, "110115"),
)


def build() -> dict:
    """The FeatureCollection (GCJ-02, declared in the top-level ``datum`` member)."""
    features = []
    for number, (station, station_en, lon, lat, district) in enumerate(STATIONS, start=1):
        ring = circle_polygon(lon, lat, RADIUS_M, segments=SEGMENTS).exterior.coords
        features.append(
            {
                "type": "Feature",
                "id": f"rail-{number:03d}",
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [[[round(x, DECIMALS), round(y, DECIMALS)] for x, y in ring]],
                },
                "properties": {
                    "name": f"{station}站周边",
                    "kind": "rail_station",
                    "station": station,
                    "station_en": station_en,
                    "district": district,
                    "center": [lon, lat],
                    "radius_m": RADIUS_M,
                    "valid_from": None,
                    "valid_to": None,
                },
            }
        )
    return {
        "type": "FeatureCollection",
        "datum": "GCJ-02",
        "source": "hand-entered approximate positions (govcenter demo seed), not survey data; see README.md",
        "features": features,
    }


def main() -> None:
    collection = build()
    features = collection.pop("features")
    # One feature per line: small, and a diff shows which station changed.
    head = json.dumps(collection, ensure_ascii=False)[:-1]
    lines = [json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in features]
    text = head + ', "features": [\n' + ",\n".join(lines) + "\n]}\n"
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT} ({len(STATIONS)} stations)")


if __name__ == "__main__":
    main()
