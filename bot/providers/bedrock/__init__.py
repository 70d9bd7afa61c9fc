"""Providers: the Amazon Bedrock family (model customization over aiobotocore, S3 staging)."""
