import { Component, type ReactNode } from 'react';

/** A page that throws shows what happened instead of a blank window; the rest of the app keeps working. */
export class ErrorBoundary extends Component<{ children: ReactNode; resetKey: string }, { error: Error | null }> {
  override state = { error: null as Error | null };

  static getDerivedStateFromError(error: Error) {
    return { error };
  }

  override componentDidUpdate(previous: { resetKey: string }) {
    if (previous.resetKey !== this.props.resetKey && this.state.error) this.setState({ error: null });
  }

  override render() {
    if (this.state.error) {
      return (
        <div role="alert" className="card">
          <h2>This page failed to show</h2>
          <p>{this.state.error.message}</p>
          <p className="hint">Other pages still work. Reload the window to try again; if it keeps happening, report it with this message.</p>
        </div>
      );
    }
    return this.props.children;
  }
}
