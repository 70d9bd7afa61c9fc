"""Providers: the Azure OpenAI family (OpenAI's fine-tuning API in Azure's shape)."""
