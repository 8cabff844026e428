from lib.aisre_st2 import AisreAction


class RollbackDeployment(AisreAction):
    def run(self, service, dry_run=False, user="chatops"):
        return self.respond(self.chatops.order, "rollback_deployment", service, user=user, dry_run=dry_run)
