"""Serve live power and energy per device to Prometheus, and scrape it once.

    python examples/exporter.py              # or, as a service: greenai exporter --port 9464

Prometheus scrape config:  - job_name: greenai
                             static_configs: [{targets: ["127.0.0.1:9464"]}]
"""

import time
import urllib.request

from greenai.export.prometheus import Exporter

with Exporter(port=0, interval_s=0.2) as exporter:  # port 0: any free port
    print(f"serving {exporter.url}")
    time.sleep(2.0)
    text = urllib.request.urlopen(exporter.url, timeout=5).read().decode()
print("\n".join(line for line in text.splitlines() if line.startswith("greenai_")))
