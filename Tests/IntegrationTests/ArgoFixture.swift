import Foundation

/// An Argo Rollouts manifest as users have it (apiVersion argoproj.io): the
/// tests change only its apiVersion. Pauses are short so it runs quickly.
let argoRolloutsDemo = """
    apiVersion: argoproj.io/v1alpha1
    kind: Rollout
    metadata:
      name: rollouts-demo
    spec:
      replicas: 5
      revisionHistoryLimit: 2
      selector:
        matchLabels:
          app: rollouts-demo
      template:
        metadata:
          labels:
            app: rollouts-demo
        spec:
          containers:
          - name: rollouts-demo
            image: argoproj/rollouts-demo:blue
            ports:
            - name: http
              containerPort: 8080
              protocol: TCP
            resources:
              requests:
                memory: 32Mi
                cpu: 5m
      strategy:
        canary:
          maxSurge: "25%"
          maxUnavailable: 0
          steps:
          - setWeight: 20
          - pause: {duration: 1}
          - setWeight: 60
          - pause: {duration: 1s}
          - setWeight: 80
          - pause: {duration: 0m}
    """

/// The manifest with only its apiVersion changed, as the README tells users to do.
func convertedArgoManifest() -> String {
    argoRolloutsDemo.replacingOccurrences(of: "apiVersion: argoproj.io/v1alpha1", with: "apiVersion: aviary.dev/v1alpha1")
}
