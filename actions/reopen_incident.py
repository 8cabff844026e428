from lib.aisre_st2 import AisreAction


class ReopenIncident(AisreAction):
    def run(self, incident_id):
        return self.respond(self.runtime.reopen, incident_id)
