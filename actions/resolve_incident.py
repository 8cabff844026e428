from lib.aisre_st2 import AisreAction


class ResolveIncident(AisreAction):
    def run(self, incident_id, how):
        return self.respond(self.runtime.resolve, incident_id, how)
