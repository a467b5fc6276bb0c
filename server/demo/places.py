"""Points around a place, for schools, homes and check-ins (flat-earth: fine for tens of km)."""

import math
import random


def offset(lat: float, lon: float, km: float, bearing_deg: float) -> tuple[float, float]:
    """The point ``km`` away in direction ``bearing_deg``."""
    b = math.radians(bearing_deg)
    dlat = km * math.cos(b) / 111.32
    dlon = km * math.sin(b) / (111.32 * math.cos(math.radians(lat)))
    return round(lat + dlat, 6), round(lon + dlon, 6)


def around(
    rng: random.Random, lat: float, lon: float, lo_km: float, hi_km: float
) -> tuple[float, float]:
    """A point between ``lo_km`` and ``hi_km`` from (lat, lon), in any direction."""
    return offset(lat, lon, rng.uniform(lo_km, hi_km), rng.uniform(0, 360))
