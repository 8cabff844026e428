from lib.aisre_st2 import AisreAction


class KillQuery(AisreAction):
    def run(self, pid, database, user="chatops", dry_run=False):
        return self.respond(self.chatops.order, "pg_cancel_query", database, params={"pid": int(pid)}, user=user,
                            target_kind="postgres", target_name=database, dry_run=dry_run)
