from lib.aisre_st2 import AisreAction


class GetStatus(AisreAction):
    def run(self, service):
        return self.respond(self.chatops.status, service)
