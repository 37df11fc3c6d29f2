import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { GuestApp } from './GuestApp';
import { bindStore } from './api/bind-store';
import { connectToHost, viewLinkToken } from './api/connect';
import { ApiContext } from './api/context';
import './styles.css';

// a view link's browser sees the Watch page alone (it may call nothing else)
const guest = viewLinkToken() !== null;
const api = connectToHost();
if (!guest) bindStore(api);

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <ApiContext.Provider value={api}>
      {guest ? <GuestApp /> : <App />}
    </ApiContext.Provider>
  </StrictMode>,
);
