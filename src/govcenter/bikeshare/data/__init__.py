"""Package data of the bike-share app (a package so the files ship with the wheel)."""
