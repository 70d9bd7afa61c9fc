"""Providers: where a Bedrock account's work happens (region, role, bucket) and its endpoints."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class BedrockAccount:
    """A team's (or the deployment's) AWS account as the Bedrock family uses it."""

    region: str
    role_arn: str
    """The IAM role Bedrock assumes to read the staged data and write the job's output."""
    bucket: str
    prefix: str = "finetune-bot/"
    access_key_id: str | None = None
    secret_access_key: str | None = None
    """None for both: the AWS default chain (the deployment's ambient identity)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Endpoints:
    """Endpoint overrides (the tests' moto and Bedrock fakes); None: the AWS SDK's own choice,
    AWS's regional endpoint unless an `AWS_ENDPOINT_URL_<SERVICE>` variable names another."""

    bedrock: str | None = None
    runtime: str | None = None
    s3: str | None = None
    sts: str | None = None

    def of(self, service: str) -> str | None:
        return {
            "bedrock": self.bedrock,
            "bedrock-runtime": self.runtime,
            "s3": self.s3,
            "sts": self.sts,
        }[service]


__all__ = ["BedrockAccount", "Endpoints"]
