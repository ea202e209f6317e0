"""AWS edges: the SQS batch worker, the Lambda handler and CloudWatch metrics.

Written once against boto3: the endpoint comes from ``AWS_ENDPOINT_URL`` (LocalStack, a moto
server) or is AWS itself; region and credentials are found the AWS way.
"""
