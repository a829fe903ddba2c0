import getpass
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.serializers.json import DjangoJSONEncoder

from handoffs.models import Customer
from handoffs.services.privacy import customer_export


class Command(BaseCommand):
    help = "Print everything Warmline holds about a customer as JSON (audited)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("customer_id", help="The customer's id as bots send it.")

    def handle(self, *args: Any, **options: Any) -> None:
        customer = Customer.objects.filter(external_id=options["customer_id"]).first()
        if customer is None:
            raise CommandError("No such customer.")
        export = customer_export(customer=customer, actor=getpass.getuser())
        self.stdout.write(json.dumps(export, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False))
