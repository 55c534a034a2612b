"""A Redfish service on 127.0.0.1, serving a DMTF-mockup-shaped tree with a power you set.

The tree follows the DMTF public mockups (public-rackmount1): ServiceRoot -> Chassis
collection -> a RackMount chassis "1U" with the older ``Power`` resource
(``PowerControl[0].PowerConsumedWatts``) and, when ``environment_metrics`` is on, the
newer ``EnvironmentMetrics`` (``PowerWatts.Reading``); a GPU baseboard chassis of type
"Module" comes first in the collection, as on HGX nodes, and must not be taken for the
node; a listed member that answers 404 must not hide the others. ``sensors_only`` leaves
the chassis only its ``Sensors`` collection; ``energy_joules`` adds the
``EnvironmentMetrics.EnergyJoules`` counter. HTTP basic auth is enforced when credentials
are set; ``down`` answers 503 as a BMC that is resetting does. Every request's path and
Authorization header is recorded.
"""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeRedfish:
    def __init__(
        self,
        watts: float = 450.0,
        credentials: tuple[str, str] | None = None,
        environment_metrics: bool = False,
        sensors_only: bool = False,
        energy_joules: bool = False,
        clock: Any = None,
    ):
        self.watts = watts
        self.credentials = credentials
        self.environment_metrics = environment_metrics
        self.sensors_only = sensors_only  # a chassis with only the Sensors collection
        # EnvironmentMetrics.EnergyJoules: an integer J counter, integrated from ``watts``
        # on ``clock`` at each request (as a BMC accumulates it)
        self.energy_joules = energy_joules
        import time

        self.clock = clock or time.monotonic
        self._energy_j = 0.0
        self._energy_t = self.clock()
        self.down = False
        self.requests: list[tuple[str, str | None]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                auth = self.headers.get("Authorization")
                fake.requests.append((self.path, auth))
                if fake.down:
                    return self._send(503, {"error": {"message": "Service Unavailable"}})
                if fake.credentials is not None:
                    token = base64.b64encode(":".join(fake.credentials).encode()).decode()
                    if auth != f"Basic {token}":
                        return self._send(401, {"error": {"message": "Unauthorized"}})
                doc = fake.resource(self.path.rstrip("/"))
                if doc is None:
                    return self._send(404, {"error": {"message": "Not Found"}})
                return self._send(200, doc)

            def _send(self, code: int, doc: dict[str, Any]) -> None:
                body = json.dumps(doc).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def energy_now(self) -> float:
        """Return the true energy so far (J), bringing the accumulator up to now."""
        t = self.clock()
        self._energy_j += self.watts * (t - self._energy_t)
        self._energy_t = t
        return self._energy_j

    def resource(self, path: str) -> dict[str, Any] | None:
        chassis = {
            "@odata.type": "#Chassis.v1_21_0.Chassis",
            "@odata.id": "/redfish/v1/Chassis/1U",
            "Id": "1U",
            "Name": "Computer System Chassis",
            "ChassisType": "RackMount",
            "Manufacturer": "Contoso",
            "Model": "3500RX",
            "Power": {"@odata.id": "/redfish/v1/Chassis/1U/Power"},
        }
        if self.environment_metrics or self.energy_joules:
            chassis["EnvironmentMetrics"] = {
                "@odata.id": "/redfish/v1/Chassis/1U/EnvironmentMetrics"
            }
        if self.sensors_only:
            del chassis["Power"]
            chassis["Sensors"] = {"@odata.id": "/redfish/v1/Chassis/1U/Sensors"}
        sensors = {
            "CPU0Temp": {"ReadingType": "Temperature", "Reading": 41.0, "PhysicalContext": "CPU"},
            "PSU0InputPower": {
                "ReadingType": "Power",
                "Reading": self.watts / 2,
                "PhysicalContext": "PowerSupply",
            },
            "TotalPower": {
                "ReadingType": "Power",
                "Reading": self.watts,
                "PhysicalContext": "Chassis",
            },
        }
        docs: dict[str, dict[str, Any]] = {
            "/redfish/v1": {
                "@odata.type": "#ServiceRoot.v1_15_0.ServiceRoot",
                "@odata.id": "/redfish/v1/",
                "Id": "RootService",
                "RedfishVersion": "1.17.0",
                "Chassis": {"@odata.id": "/redfish/v1/Chassis"},
                "Systems": {"@odata.id": "/redfish/v1/Systems"},
            },
            "/redfish/v1/Chassis": {
                "@odata.type": "#ChassisCollection.ChassisCollection",
                "@odata.id": "/redfish/v1/Chassis",
                "Members@odata.count": 3,
                "Members": [
                    {"@odata.id": "/redfish/v1/Chassis/HGX_Baseboard_0"},
                    {"@odata.id": "/redfish/v1/Chassis/PSU_Backplane"},  # answers 404
                    {"@odata.id": "/redfish/v1/Chassis/1U"},
                ],
            },
            "/redfish/v1/Chassis/HGX_Baseboard_0": {
                "@odata.id": "/redfish/v1/Chassis/HGX_Baseboard_0",
                "Id": "HGX_Baseboard_0",
                "ChassisType": "Module",
                "Power": {"@odata.id": "/redfish/v1/Chassis/HGX_Baseboard_0/Power"},
            },
            "/redfish/v1/Chassis/HGX_Baseboard_0/Power": {
                "PowerControl": [{"MemberId": "0", "PowerConsumedWatts": 300}],
            },
            "/redfish/v1/Chassis/1U": chassis,
            "/redfish/v1/Chassis/1U/Power": {
                "@odata.type": "#Power.v1_7_1.Power",
                "@odata.id": "/redfish/v1/Chassis/1U/Power",
                "Id": "Power",
                "PowerControl": [
                    {
                        "@odata.id": "/redfish/v1/Chassis/1U/Power#/PowerControl/0",
                        "MemberId": "0",
                        "Name": "Server Power Control",
                        "PowerConsumedWatts": self.watts,
                        "PowerCapacityWatts": 800,
                        "PowerMetrics": {"IntervalInMin": 30, "AverageConsumedWatts": 319},
                    }
                ],
            },
            "/redfish/v1/Chassis/1U/EnvironmentMetrics": {
                "@odata.type": "#EnvironmentMetrics.v1_3_0.EnvironmentMetrics",
                "@odata.id": "/redfish/v1/Chassis/1U/EnvironmentMetrics",
                "Id": "EnvironmentMetrics",
                "PowerWatts": {
                    "DataSourceUri": "/redfish/v1/Chassis/1U/Sensors/TotalPower",
                    "Reading": self.watts,
                },
            },
        }
        em = "/redfish/v1/Chassis/1U/EnvironmentMetrics"
        if self.energy_joules and path == em:
            docs[em]["EnergyJoules"] = {"Reading": int(self.energy_now())}
        docs["/redfish/v1/Chassis/1U/Sensors"] = {
            "@odata.type": "#SensorCollection.SensorCollection",
            "Members": [{"@odata.id": f"/redfish/v1/Chassis/1U/Sensors/{k}"} for k in sensors],
        }
        for k, v in sensors.items():
            docs[f"/redfish/v1/Chassis/1U/Sensors/{k}"] = {
                "@odata.type": "#Sensor.v1_7_0.Sensor",
                "@odata.id": f"/redfish/v1/Chassis/1U/Sensors/{k}",
                "Id": k,
                "ReadingUnits": "W" if v["ReadingType"] == "Power" else "Cel",
                **v,
            }
        return docs.get(path)

    def __enter__(self) -> FakeRedfish:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
