# ---------------------------------------------------------------------------------------------------
# Static egress IP (SEBI, from 2026-04-01): brokers accept API orders only from the client's
# registered IP. With static_egress_ip = true the Lambdas that talk to brokers run in private
# subnets whose only way out carries an Elastic IP: register `egress_ip` (and `egress_ips`, a
# secondary, in gateway mode) at every broker.
#   egress_nat = "instance" (default): one t4g.nano NAT instance in an auto-scaling group of one
#     (nat_instance.tf), about USD 0.23 a day with its Elastic IP and disk (docs/cost.md).
#   egress_nat = "gateway": managed NAT gateways, one per zone the Lambda subnets use, each with
#     its own Elastic IP (about USD 1.4 a day each before data); brokers take a primary and a
#     secondary IP, so both are registrable.
# ---------------------------------------------------------------------------------------------------
variable "static_egress_ip" {
  description = "Run broker-facing Lambdas in private subnets whose egress carries an Elastic IP (required by brokers since 2026-04-01; false only for local runs)."
  type        = bool
  default     = true
}

variable "egress_nat" {
  description = "How the private subnets reach the brokers: instance (a NAT instance, the cheap default) or gateway (managed NAT gateways, one per zone)."
  type        = string
  default     = "instance"
  validation {
    condition     = contains(["instance", "gateway"], var.egress_nat)
    error_message = "egress_nat must be \"instance\" or \"gateway\"."
  }
}

variable "vpc_cidr" {
  description = "CIDR of the egress VPC."
  type        = string
  default     = "10.42.0.0/16"
}

locals {
  egress       = var.static_egress_ip ? 1 : 0
  nat_gateways = var.static_egress_ip && var.egress_nat == "gateway" ? 2 : 0
  nat_instance = var.static_egress_ip && var.egress_nat == "instance" ? 1 : 0
  # Zones of the two Lambda subnets; gateway mode puts one public subnet and NAT gateway in each.
  private_subnets = var.static_egress_ip ? 2 : 0
  public_subnets  = local.nat_gateways > 0 ? local.nat_gateways : local.egress
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
  count             = local.public_subnets
  vpc_id            = aws_vpc.egress[0].id
  cidr_block        = cidrsubnet(var.vpc_cidr, 8, count.index)
  availability_zone = data.aws_availability_zones.available[0].names[count.index % length(data.aws_availability_zones.available[0].names)]
  tags              = { Name = "${local.name}-public-${count.index}" }
}

# Two private subnets (two zones) for the Lambdas. With the NAT instance both leave through it, so
# every broker sees one source address; with gateways each zone leaves through its own.
resource "aws_subnet" "private" {
  count             = local.private_subnets
  vpc_id            = aws_vpc.egress[0].id
  cidr_block        = cidrsubnet(var.vpc_cidr, 8, 10 + count.index)
  availability_zone = data.aws_availability_zones.available[0].names[count.index % length(data.aws_availability_zones.available[0].names)]
  tags              = { Name = "${local.name}-private-${count.index}" }
}

# One Elastic IP per way out: the NAT instance's (associated by the instance at boot) or each
# NAT gateway's.
resource "aws_eip" "egress" {
  count  = max(local.nat_gateways, local.nat_instance)
  domain = "vpc"
  tags   = { Name = "${local.name}-egress-${count.index}" }
}

resource "aws_nat_gateway" "egress" {
  count         = local.nat_gateways
  allocation_id = aws_eip.egress[count.index].id
  subnet_id     = aws_subnet.public[count.index].id
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
  count          = local.public_subnets
  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public[0].id
}

# The private route tables carry no inline routes: with gateways the default route is an
# aws_route below; with the NAT instance the instance writes it at boot (its network interface
# changes whenever the group replaces it), and Terraform must not take it away again.
resource "aws_route_table" "private" {
  count  = local.nat_gateways > 0 ? local.nat_gateways : local.egress
  vpc_id = aws_vpc.egress[0].id
  tags   = { Name = "${local.name}-private-${count.index}" }
}

resource "aws_route" "private_nat_gateway" {
  count                  = local.nat_gateways
  route_table_id         = aws_route_table.private[count.index].id
  destination_cidr_block = "0.0.0.0/0"
  nat_gateway_id         = aws_nat_gateway.egress[count.index].id
}

resource "aws_route_table_association" "private" {
  count          = local.private_subnets
  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private[local.nat_gateways > 0 ? count.index : 0].id
}

# DynamoDB through a gateway endpoint: table traffic stays off the NAT (cheaper, no data charge).
resource "aws_vpc_endpoint" "dynamodb" {
  count             = local.egress
  vpc_id            = aws_vpc.egress[0].id
  service_name      = "com.amazonaws.${local.region}.dynamodb"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = aws_route_table.private[*].id
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
  description = "Register this IP at every broker as the primary static IP (empty unless static_egress_ip = true)."
  value       = var.static_egress_ip ? aws_eip.egress[0].public_ip : ""
}

output "egress_ips" {
  description = "Every Elastic IP orders may leave from: one with the NAT instance, one per zone with gateways (register the second as the secondary IP)."
  value       = aws_eip.egress[*].public_ip
}

output "egress_nat" {
  description = "What carries the egress IP: instance or gateway (empty unless static_egress_ip = true)."
  value       = var.static_egress_ip ? var.egress_nat : ""
}

output "lambda_subnet_ids" {
  description = "Private subnets for broker-facing Lambdas (empty unless static_egress_ip)."
  value       = aws_subnet.private[*].id
}

output "lambda_security_group_ids" {
  description = "Security group for broker-facing Lambdas (empty unless static_egress_ip)."
  value       = aws_security_group.lambda[*].id
}
