"""Provider adapter: Azure OpenAI fine-tuning through the openai SDK's AsyncAzureOpenAI.

The OpenAI implementation does the work; what differs at Azure is here: the resource's routes
with an api-version on every request, the `api-key` header or an Entra ID token, the training
tier each job is created with (`trainingType`), its own status words (the profile), and a
fine-tuned model that answers only from a deployment made in Azure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx2
from openai import AsyncAzureOpenAI

from bot.providers.azure.profile import (
    API_VERSION_DEFAULT,
    DEPLOY_NOTE,
    ENTRA_TOKEN,
    PROFILE,
    TRAINING_TYPE_DEFAULT,
)
from bot.providers.openai.provider import OpenAIProvider
from handlers.chat import ChatMessage, ChatResult
from handlers.errors import ProviderError, ProviderErrorKind
from handlers.model import JobSpec


class AzureOpenAIProvider(OpenAIProvider):
    """The Provider port at an Azure OpenAI resource."""

    def __init__(
        self,
        client: AsyncAzureOpenAI,
        *,
        training_type: str = TRAINING_TYPE_DEFAULT,
        **options: Any,
    ) -> None:
        super().__init__(client, profile=PROFILE, **options)
        self._training_type = training_type
        # An Entra ID token is as secret as a key: scrubbed from every message too.
        token = getattr(client, "_azure_ad_token", None)
        if isinstance(token, str) and len(token) >= 4:
            self._secrets = (*self._secrets, token)

    @classmethod
    def connect(
        cls,
        endpoint: str,
        credential: str,
        *,
        api_version: str = API_VERSION_DEFAULT,
        training_type: str = TRAINING_TYPE_DEFAULT,
        timeout: float = 60.0,
        max_retries: int = 2,
        http_client: httpx2.AsyncClient | None = None,
        **options: Any,
    ) -> AzureOpenAIProvider:
        """`endpoint` is `https://<resource>.openai.azure.com`; `credential` is the resource's
        key (sent as `api-key`) or an Entra ID access token (sent as a bearer token).

        No deployment is set: the fine-tuning, files and models routes are resource-wide and
        `JobSpec.model` names the base model. Chat goes to the deployment named by the model
        (the SDK routes it to /openai/deployments/<model>/...).
        """
        token = ENTRA_TOKEN.fullmatch(credential) is not None
        client = AsyncAzureOpenAI(
            azure_endpoint=endpoint,
            api_key=None if token else credential,
            azure_ad_token=credential if token else None,
            api_version=api_version,
            timeout=timeout,
            max_retries=max_retries,
            http_client=http_client,
        )
        return cls(client, training_type=training_type, **options)

    def _create_extra(self, spec: JobSpec) -> dict[str, object] | None:
        # Without it Azure answers a misleading "base model does not support fine-tuning".
        return {"trainingType": self._training_type}

    async def chat(
        self,
        model: str,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int | None = None,
        store: bool = False,
        metadata: Mapping[str, str] | None = None,
    ) -> ChatResult:
        """A fine-tuned model with no deployment of its name is a 404 (DeploymentNotFound)
        at Azure: that is said as the step it needs, not as a missing model."""
        try:
            return await super().chat(
                model, messages, max_tokens=max_tokens, store=store, metadata=metadata
            )
        except ProviderError as error:
            if error.kind is ProviderErrorKind.NOT_FOUND and PROFILE.is_tuned_model(model):
                raise ProviderError(
                    ProviderErrorKind.BAD_REQUEST,
                    f"{model} has no deployment at this Azure resource. {DEPLOY_NOTE}",
                ) from None
            raise
