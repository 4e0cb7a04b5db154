"""Every file a finished run's report writes, in the order it writes them."""

from __future__ import annotations

from typing import Final

from telemetry.reporters.failure_report import FailureReportReporter
from telemetry.reporters.interface import Reporter
from telemetry.reporters.logs import LogsReporter
from telemetry.reporters.metrics_json import MetricsJsonReporter
from telemetry.reporters.prometheus import PrometheusReporter
from telemetry.reporters.sample_logs import MEMORY_SAMPLES, NETWORK_SAMPLES

REPORTERS: Final[tuple[Reporter, ...]] = (
    MetricsJsonReporter(),
    PrometheusReporter(),
    LogsReporter(),
    FailureReportReporter(),
    MEMORY_SAMPLES,
    NETWORK_SAMPLES,
)
