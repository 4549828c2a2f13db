"""Every knob of token distribution in one value, built from the settings once and passed down."""

from __future__ import annotations

from dataclasses import dataclass, field

from emsp.settings import Settings
from partners.delivery import BackoffPolicy, ShortRetry


@dataclass(frozen=True)
class DeliveryPolicy:
    batch_size: int = 200
    concurrency: int = 64
    partner_concurrency: int = 8
    lease_seconds: float = 120.0
    poll_seconds: float = 2.0
    sync_seconds: float = 30.0
    reconcile_interval_seconds: float = 21600.0
    reconcile_sample: int = 20
    flush_size: int = 100  # outcomes written per short transaction
    flush_seconds: float = 0.1  # ... or after this long
    backoff: BackoffPolicy = field(default_factory=BackoffPolicy)
    short_retry: ShortRetry = field(default_factory=ShortRetry)

    @property
    def attempt_deadline_seconds(self) -> float:
        """An attempt (with its short retries) is cut off at half the lease, so it is over before another
        worker may claim the row: a stale PUT cannot land after a newer one."""
        return self.lease_seconds / 2

    @classmethod
    def from_settings(cls, settings: Settings) -> DeliveryPolicy:
        return cls(
            batch_size=settings.distribution_batch_size,
            concurrency=settings.distribution_concurrency,
            partner_concurrency=settings.distribution_partner_concurrency,
            lease_seconds=settings.distribution_lease_seconds,
            poll_seconds=settings.distribution_poll_seconds,
            sync_seconds=settings.distribution_sync_seconds,
            reconcile_interval_seconds=settings.distribution_reconcile_interval_seconds,
            reconcile_sample=settings.distribution_reconcile_sample,
            backoff=BackoffPolicy(
                base_seconds=settings.distribution_backoff_base_seconds,
                cap_seconds=settings.distribution_backoff_cap_seconds,
                retry_after_cap_seconds=settings.distribution_retry_after_cap_seconds,
                max_attempts=settings.distribution_max_attempts,
            ),
            short_retry=ShortRetry(
                retries=settings.distribution_short_retries,
                wait_seconds=settings.distribution_short_retry_wait_seconds,
                retry_after_cap_seconds=settings.distribution_short_retry_after_cap_seconds,
            ),
        )
