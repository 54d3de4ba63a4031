"""Bike-share supervision (互联网租赁自行车监管与服务平台): operator registry and credentials,
vehicle registry, fences and fleet quotas, MDS ingest, live picture, analyses and assessment."""
