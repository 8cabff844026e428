from lib.aisre_st2 import AisreAction


class ListIncidents(AisreAction):
    def run(self, **kwargs):
        return self.respond(self.chatops.incidents)
