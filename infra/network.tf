# ---------------------------------------------------------------------------------------------------
# Static egress IP (SEBI, from 2026-04-01): brokers accept API orders only from the client's
# whitelisted IP. With static_egress_ip = true the Lambdas that talk to brokers run in private
# subnets whose only way out is one NAT gateway with one Elastic IP: whitelist `egress_ip` at every
# broker. Costs a NAT gateway (about USD 0.056/h in ap-south-1 plus data), so it is opt-in.
# ---------------------------------------------------------------------------------------------------
variable "static_egress_ip" {
  description = "Run broker-facing Lambdas in a VPC behind a NAT gateway with an Elastic IP."
  type        = bool
  default     = false
}

variable "vpc_cidr" {
  description = "CIDR of the egress VPC."
  type        = string
  default     = "10.42.0.0/16"
}

locals {
  egress = var.static_egress_ip ? 1 : 0
}

data "aws_availability_zones" "available" {
  count = local.egress
  state = "available"
}

resource "aws_vpc" "egress" {
  count                = local.egress
  cidr_block           = var.vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true
  tags                 = { Name = "${local.name}-egress" }
}

resource "aws_internet_gateway" "egress" {
  count  = local.egress
  vpc_id = aws_vpc.egress[0].id
}

resource "aws_subnet" "public" {
  count             = local.egress
  vpc_id            = aws_vpc.egress[0].id
  cidr_block        = cidrsubnet(var.vpc_cidr, 8, 0)
  availability_zone = data.aws_availability_zones.available[0].names[0]
  tags              = { Name = "${local.name}-public" }
}

# Two private subnets (two AZs) for the Lambdas; both leave through the one NAT gateway so that
# every broker sees the same source address.
resource "aws_subnet" "private" {
  count             = var.static_egress_ip ? 2 : 0
  vpc_id            = aws_vpc.egress[0].id
  cidr_block        = cidrsubnet(var.vpc_cidr, 8, 10 + count.index)
  availability_zone = data.aws_availability_zones.available[0].names[count.index % length(data.aws_availability_zones.available[0].names)]
  tags              = { Name = "${local.name}-private-${count.index}" }
}

resource "aws_eip" "egress" {
  count  = local.egress
  domain = "vpc"
  tags   = { Name = "${local.name}-egress" }
}

resource "aws_nat_gateway" "egress" {
  count         = local.egress
  allocation_id = aws_eip.egress[0].id
  subnet_id     = aws_subnet.public[0].id
  depends_on    = [aws_internet_gateway.egress]
}

resource "aws_route_table" "public" {
  count  = local.egress
  vpc_id = aws_vpc.egress[0].id
  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.egress[0].id
  }
}

resource "aws_route_table_association" "public" {
  count          = local.egress
  subnet_id      = aws_subnet.public[0].id
  route_table_id = aws_route_table.public[0].id
}

resource "aws_route_table" "private" {
  count  = local.egress
  vpc_id = aws_vpc.egress[0].id
  route {
    cidr_block     = "0.0.0.0/0"
    nat_gateway_id = aws_nat_gateway.egress[0].id
  }
}

resource "aws_route_table_association" "private" {
  count          = var.static_egress_ip ? 2 : 0
  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private[0].id
}

# DynamoDB through a gateway endpoint: table traffic stays off the NAT (cheaper, no data charge).
resource "aws_vpc_endpoint" "dynamodb" {
  count             = local.egress
  vpc_id            = aws_vpc.egress[0].id
  service_name      = "com.amazonaws.${local.region}.dynamodb"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = [aws_route_table.private[0].id]
}

resource "aws_security_group" "lambda" {
  count       = local.egress
  name        = "${local.name}-lambda"
  description = "Broker-facing Lambdas: no inbound, HTTPS out."
  vpc_id      = aws_vpc.egress[0].id
  egress {
    description = "HTTPS to brokers and AWS APIs"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

# Lambdas in a VPC need to manage their network interfaces.
data "aws_iam_policy_document" "lambda_vpc" {
  count = local.egress
  statement {
    actions = [
      "ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DeleteNetworkInterface",
      "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses",
    ]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "lambda_vpc" {
  count  = local.egress
  name   = "${local.name}-lambda-vpc"
  role   = aws_iam_role.lambda.id
  policy = data.aws_iam_policy_document.lambda_vpc[0].json
}

output "egress_ip" {
  description = "Whitelist this IP at every broker (empty unless static_egress_ip = true)."
  value       = var.static_egress_ip ? aws_eip.egress[0].public_ip : ""
}

output "lambda_subnet_ids" {
  description = "Private subnets for broker-facing Lambdas (empty unless static_egress_ip)."
  value       = aws_subnet.private[*].id
}

output "lambda_security_group_ids" {
  description = "Security group for broker-facing Lambdas (empty unless static_egress_ip)."
  value       = aws_security_group.lambda[*].id
}
