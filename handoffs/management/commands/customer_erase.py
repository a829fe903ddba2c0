import getpass
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from handoffs.models import Customer
from handoffs.services.privacy import customer_erase


class Command(BaseCommand):
    help = "Erase a customer's personal data everywhere, keeping aggregate metrics (audited)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("customer_id", help="The customer's id as bots send it.")
        parser.add_argument("--yes", action="store_true", help="Do not ask for confirmation.")

    def handle(self, *args: Any, **options: Any) -> None:
        customer = Customer.objects.filter(external_id=options["customer_id"]).first()
        if customer is None:
            raise CommandError("No such customer.")
        if not options["yes"] and input(f"Erase {customer.external_id}? Type yes: ").strip() != "yes":
            raise CommandError("Not confirmed; nothing was erased.")
        pseudonym = customer_erase(customer=customer, actor=getpass.getuser())
        self.stdout.write(f"Erased. Aggregate rows now carry the pseudonym {pseudonym}.")
